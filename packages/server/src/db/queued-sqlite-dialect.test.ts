import { DatabaseSync } from 'node:sqlite';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { nodeSqliteDatabase } from './node-sqlite.ts';
import { queuedSqliteDialect } from './queued-sqlite-dialect.ts';

const opened: Kysely<unknown>[] = [];
afterEach(async () => {
  for (const db of opened.splice(0)) await db.destroy();
});

function open(queued: boolean) {
  const config = { database: nodeSqliteDatabase(new DatabaseSync(':memory:')) };
  const db = new Kysely<unknown>({ dialect: queued ? queuedSqliteDialect(config) : new SqliteDialect(config) });
  opened.push(db);
  return db;
}

/** Milliseconds until `count` queries issued at once have all been answered. */
async function burst(db: Kysely<unknown>, count: number): Promise<number> {
  const started = performance.now();
  const answers = await Promise.all(
    Array.from({ length: count }, (_, i) => sql<{ n: number }>`select ${i} as n`.execute(db)),
  );
  expect(answers.map((a) => a.rows[0]?.n)).toEqual(Array.from({ length: count }, (_, i) => i));
  return performance.now() - started;
}

describe('the queued SQLite dialect', () => {
  it('answers queries and transactions issued at once, each in order of arrival', async () => {
    const db = open(true);
    await sql`create table t (n integer)`.execute(db);
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        i % 10 === 0
          ? db.transaction().execute(async (tx) => {
              await sql`insert into t values (${i})`.execute(tx);
              order.push(i);
            })
          : sql`select 1`.execute(db).then(() => order.push(i)),
      ),
    );
    expect(order).toEqual(Array.from({ length: 200 }, (_, i) => i));
    const rows = await sql<{ c: number }>`select count(*) as c from t`.execute(db);
    expect(rows.rows[0]?.c).toBe(20);
  });

  it('frees the connection after a failed query', async () => {
    const db = open(true);
    await expect(sql`select * from missing`.execute(db)).rejects.toThrow(/no such table/);
    await expect(sql`select 1 as one`.execute(db)).resolves.toMatchObject({ rows: [{ one: 1 }] });
  });

  it('keeps a burst of thousands linear, where the stock lock wakes every waiter on each release', async () => {
    const queued = await burst(open(true), 4000);
    const stock = await burst(open(false), 4000);
    expect(queued).toBeLessThan(stock / 3);
  });
});
