import { type Kysely, sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from './connection.ts';
import { migrateToLatest } from './migrate.ts';

const opened: Database[] = [];
afterEach(async () => {
  for (const d of opened.splice(0)) await d.close();
});

describe('table write watcher (SQLite)', () => {
  it('tells of inserts, updates and deletes of watched tables only, and not of last-use updates', async () => {
    const database = openDatabase(':memory:');
    opened.push(database);
    await migrateToLatest(database.db);
    let calls = 0;
    database.watchWrites?.(['api_tokens'], () => calls++);
    const row = { id: 't1', name: 'n', role: 'admin', token_hash: 'h', created_at: '2026-12-06T00:00:00Z' };
    await database.db.insertInto('api_tokens').values(row).execute();
    expect(calls).toBe(2);
    await database.db.updateTable('api_tokens').set({ revoked_at: 'x' }).where('id', '=', 't1').execute();
    expect(calls).toBe(4);
    await database.db.updateTable('api_tokens').set({ last_used_at: 'x' }).where('id', '=', 't1').execute();
    expect(calls).toBe(4);
    await database.db.selectFrom('api_tokens').selectAll().execute();
    await database.db.schema.createTable('other').addColumn('x', 'integer').execute();
    await (database.db as unknown as Kysely<{ other: { x: number } }>).insertInto('other').values({ x: 1 }).execute();
    expect(calls).toBe(4);
    await database.db.deleteFrom('api_tokens as t').where('t.id', '=', 't1').execute();
    expect(calls).toBe(6);
    // Raw SQL is not seen.
    await sql`delete from api_tokens`.execute(database.db);
    expect(calls).toBe(6);
  });
});
