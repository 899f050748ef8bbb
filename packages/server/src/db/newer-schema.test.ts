import { sql } from 'kysely';
import { afterEach, expect, it } from 'vitest';
import {
  allStoreKinds,
  createTestDatabase,
  describeEachStore,
  type TestDatabase,
} from '../../test/support/databases.ts';
import { startTestServer } from '../../test/support/server.ts';
import { ConfigError } from '../errors.ts';
import { type Database, openDatabase } from './connection.ts';
import { migrateToLatest, migrations } from './migrate.ts';
import { refuseNewerSchema, unknownMigrations } from './newer-schema.ts';

describeEachStore(allStoreKinds)('a database migrated by a newer server, on %s', (kind) => {
  let testDb: TestDatabase | undefined;
  let database: Database | undefined;
  afterEach(async () => {
    await database?.close();
    await testDb?.drop();
    database = undefined;
    testDb = undefined;
  });

  it('passes a new database and one at this server’s migrations', async () => {
    testDb = await createTestDatabase(kind);
    database = openDatabase(testDb.location);
    expect(await unknownMigrations(database.db)).toEqual([]);
    await migrateToLatest(database.db);
    expect(await unknownMigrations(database.db)).toEqual([]);
    // An older server's list is a prefix of this one: the last migration is newer to it.
    const older = Object.keys(migrations).slice(0, -1);
    expect(await unknownMigrations(database.db, older)).toEqual(Object.keys(migrations).slice(-1));
  });

  it('refuses to start on it, naming the migrations it does not know, and leaves the data as it was', async () => {
    testDb = await createTestDatabase(kind);
    database = openDatabase(testDb.location);
    await migrateToLatest(database.db);
    const at = Date.now();
    await sql`insert into kysely_migration (name, timestamp) values (${'9999-from-the-future'}, ${new Date(at).toISOString()})`.execute(
      database.db,
    );
    await expect(refuseNewerSchema(database.db, '0.1.0')).rejects.toThrow(
      /migrated by a newer Flotilla server \(migration 9999-from-the-future\), which this server \(0\.1\.0\) does not know/,
    );
    const started = startTestServer(kind, { database: testDb.location });
    await expect(started).rejects.toBeInstanceOf(ConfigError);
    await expect(started).rejects.toThrow(/9999-from-the-future/);
    const rows = await sql<{ name: string }>`select name from kysely_migration`.execute(database.db);
    expect(rows.rows.map((r) => r.name)).toEqual([...Object.keys(migrations), '9999-from-the-future']);
  });
});
