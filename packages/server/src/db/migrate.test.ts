import { sql } from 'kysely';
import { afterEach, expect, it } from 'vitest';
import {
  allStoreKinds,
  createTestDatabase,
  describeEachStore,
  type TestDatabase,
} from '../../test/support/databases.ts';
import { type Database, openDatabase } from './connection.ts';
import { createMigrator, migrateToLatest, migrations } from './migrate.ts';

describeEachStore(allStoreKinds)('migrations on %s', (kind) => {
  let testDb: TestDatabase;
  let database: Database;
  afterEach(async () => {
    await database?.close();
    await testDb?.drop();
  });

  it('apply every migration, roll each back, and apply again', async () => {
    testDb = await createTestDatabase(kind);
    database = openDatabase(testDb.location);
    const names = Object.keys(migrations);
    expect(await migrateToLatest(database.db)).toEqual(names);
    // A second run finds nothing to do.
    expect(await migrateToLatest(database.db)).toEqual([]);
    const migrator = createMigrator(database.db);
    for (const _ of names) {
      const { error } = await migrator.migrateDown();
      expect(error).toBeUndefined();
    }
    const tables = await database.db.introspection.getTables();
    expect(tables.map((t) => t.name).filter((n) => !n.startsWith('kysely_'))).toEqual([]);
    expect(await migrateToLatest(database.db)).toEqual(names);
    const count = await sql<{ n: number }>`select count(*) as n from usage_rollups`.execute(database.db);
    expect(Number(count.rows[0]?.n)).toBe(0);
  });
});
