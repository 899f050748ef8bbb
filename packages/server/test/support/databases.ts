import { rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, beforeEach, describe } from 'vitest';
import { type Database, openDatabase } from '../../src/db/connection.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';
import { makeTempDir } from './temp-dir.ts';

/** Where a real PostgreSQL for the tests is; `bash .ci/postgres.sh` starts one and prints the URL. */
export const postgresUrl = process.env.FLOTILLA_TEST_POSTGRES_URL;

export type StoreKind = 'sqlite' | 'postgres';

/** Every store the server supports; `describeEachStore` registers a suite for each. */
export const allStoreKinds: readonly StoreKind[] = ['sqlite', 'postgres'];

type StoreCase = StoreKind | readonly [StoreKind, ...unknown[]];
type CaseArgs<T> = T extends readonly [...infer Args] ? Args : [T];

/**
 * `describe.each` over stores (a kind, or a tuple starting with one). Without
 * FLOTILLA_TEST_POSTGRES_URL the PostgreSQL suites are registered as skipped, so the count shows them.
 */
export function describeEachStore<const T extends StoreCase>(cases: readonly T[]) {
  return (name: string, body: (...args: CaseArgs<T>) => void): void => {
    for (const one of cases) {
      const kind = typeof one === 'string' ? one : one[0];
      const args = (typeof one === 'string' ? [one] : one) as unknown[];
      describe.skipIf(kind === 'postgres' && !postgresUrl).each([args])(name, (...got) =>
        body(...(got as CaseArgs<T>)),
      );
    }
  };
}

export interface TestDatabase {
  /** An SQLite file path or a postgres:// URL, as `--database` takes it. */
  location: string;
  drop(): Promise<void>;
}

/** A fresh, empty database of the given kind, removed by `drop()`. */
export async function createTestDatabase(kind: StoreKind): Promise<TestDatabase> {
  if (kind === 'sqlite') {
    const dir = makeTempDir('flotilla-db-');
    return { location: join(dir, 'test.db'), drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  if (!postgresUrl) throw new Error('FLOTILLA_TEST_POSTGRES_URL is not set');
  const name = `flotilla_t_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: postgresUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(postgresUrl);
  url.pathname = `/${name}`;
  return {
    location: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: postgresUrl });
      await client.connect();
      try {
        // Without pg_signal_backend (see .ci/postgres.sh) an autovacuum worker on the database blocks
        // the drop (42501) until it finishes, which takes moments.
        for (let attempt = 1; ; attempt++) {
          try {
            await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
            break;
          } catch (err) {
            if ((err as { code?: string }).code !== '42501' || attempt === 20) throw err;
            await new Promise((r) => setTimeout(r, 250));
          }
        }
      } finally {
        await client.end();
      }
    },
  };
}

/**
 * Gives each test of the calling suite a fresh, migrated database of `kind`, closed and dropped after.
 * Read `.current` inside a test.
 */
export function useMigratedDatabase(kind: StoreKind): { current: Database } {
  const holder = {} as { current: Database; testDb: TestDatabase };
  beforeEach(async () => {
    holder.testDb = await createTestDatabase(kind);
    holder.current = openDatabase(holder.testDb.location);
    await migrateToLatest(holder.current.db);
  });
  afterEach(async () => {
    await holder.current.close();
    await holder.testDb.drop();
  });
  return holder;
}

/** How many raw check-in records a store holds, read through a connection of its own. */
export async function storedCheckins(location: string): Promise<number> {
  const database = openDatabase(location);
  try {
    const row = await database.db
      .selectFrom('checkins')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  } finally {
    await database.close();
  }
}
