import { chmodSync, closeSync, existsSync, fdatasync, openSync, realpathSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Kysely, PostgresDialect, SqliteDialect, sql, type Transaction } from 'kysely';
import pg from 'pg';
import { makePrivateDir, privateFileMode } from '../private-files.ts';
import { nodeSqliteDatabase } from './node-sqlite.ts';
import type { Tables } from './tables.ts';

export type Dialect = 'sqlite' | 'postgres';

export interface Database {
  db: Kysely<Tables>;
  dialect: Dialect;
  /** Where the data lives, with any password removed; safe to log. */
  description: string;
  ping(): Promise<void>;
  /**
   * Runs `work` in a transaction and resolves once its commit is durable. On SQLite the fsync runs
   * in the thread pool rather than inside COMMIT, so the event loop keeps serving while it waits.
   * Once a sync has failed, this and `ping` refuse until the server restarts.
   */
  commitDurably<T>(work: (tx: Transaction<Tables>) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Told when the pool loses an idle PostgreSQL connection (it opens another). */
  onConnectionError?: (err: Error) => void;
  /** Syncs SQLite's WAL after a check-in commit (`fdatasync`); tests replace it to make it fail. */
  syncWal?: (fd: number) => Promise<void>;
}

/** Opens `postgres://…` URLs on PostgreSQL and anything else as an SQLite file path. */
export function openDatabase(location: string, options: OpenOptions = {}): Database {
  if (/^postgres(ql)?:\/\//.test(location)) return openPostgres(location, options.onConnectionError ?? (() => {}));
  return openSqlite(location, options.syncWal ?? ((fd) => syncFile(fd, false)));
}

function openSqlite(path: string, syncWal: (fd: number) => Promise<void>): Database {
  if (path !== ':memory:') createPrivately(path);
  const file = new DatabaseSync(path);
  // FULL makes each commit fsync the WAL, so an acknowledged check-in survives power loss too.
  file.exec(
    'PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;',
  );
  const db = new Kysely<Tables>({ dialect: new SqliteDialect({ database: nodeSqliteDatabase(file) }) });
  let walFd: number | null = null;
  // After a failed fsync the kernel may have dropped those WAL frames while reporting later syncs
  // as fine, and recovery stops at the first bad frame: nothing more may be acknowledged.
  let syncFailure: Error | null = null;
  const assertSyncable = () => {
    if (syncFailure) {
      throw new Error(`the SQLite WAL could not be synced (${syncFailure.message}); restart the server`);
    }
  };
  return {
    db,
    dialect: 'sqlite',
    description: `SQLite ${path}`,
    async ping() {
      assertSyncable();
      await sql`select 1`.execute(db);
    },
    async commitDurably(work) {
      if (path === ':memory:') return db.transaction().execute(work);
      assertSyncable();
      // NORMAL leaves this one commit's WAL frames unsynced; the fdatasync below syncs them (and any
      // later ones) before anyone is told the commit is done. Other writers keep FULL.
      const result = await db.connection().execute(async (conn) => {
        await sql`PRAGMA synchronous = NORMAL`.execute(conn);
        try {
          return await conn.transaction().execute(work);
        } finally {
          await sql`PRAGMA synchronous = FULL`.execute(conn);
        }
      });
      if (walFd === null) {
        // SQLite names the WAL after the database's real path; its directory entry is synced once,
        // as SQLite itself would on its first WAL sync.
        const real = realpathSync(path);
        walFd = openSync(`${real}-wal`, 'r');
        await syncFile(openSync(dirname(real), 'r'), true);
      }
      try {
        await syncWal(walFd);
      } catch (err) {
        syncFailure ??= err as Error;
        throw err;
      }
      return result;
    },
    async close() {
      await db.destroy();
      if (walFd !== null) closeSync(walFd);
    },
  };
}

/**
 * Creates the database file 0600 (SQLite gives its -wal and -shm the main file's mode) and tightens
 * files an older version left readable to others.
 */
function createPrivately(path: string): void {
  makePrivateDir(dirname(path));
  closeSync(openSync(path, 'a', privateFileMode));
  for (const name of [path, `${path}-wal`, `${path}-shm`]) {
    // Best effort: a file owned by another user still opens as before.
    if (existsSync(name)) {
      try {
        chmodSync(name, privateFileMode);
      } catch {}
    }
  }
}

/** fdatasync in the thread pool; the callback form holds the event loop for less time than FileHandle's (measured). */
function syncFile(fd: number, thenClose: boolean): Promise<void> {
  return new Promise<void>((resolve, reject) =>
    fdatasync(fd, (err) => {
      if (thenClose) closeSync(fd);
      if (err) reject(err);
      else resolve();
    }),
  );
}

function openPostgres(url: string, onConnectionError: (err: Error) => void): Database {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  // An idle connection that the server drops (restart, failover) must not crash the process;
  // the pool opens a new one for the next query.
  pool.on('error', onConnectionError);
  // int8 and numeric come back as strings by default; every integer we store fits in a double.
  // A connection dropped while checked out (between the queries of a transaction) emits on the client,
  // not the pool: without a listener that is an uncaught exception. Its next query fails (and is
  // handled where it was made), and the pool discards it on release; idle ones are the pool's event.
  pool.on('connect', (client) => {
    client.setTypeParser?.(20, 'text', Number);
    client.on('error', () => {});
  });
  const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) });
  const safe = new URL(url);
  if (safe.password) safe.password = '***';
  return {
    db,
    dialect: 'postgres',
    commitDurably: (work) => db.transaction().execute(work),
    description: `PostgreSQL ${safe.toString()}`,
    async ping() {
      await sql`select 1`.execute(db);
    },
    async close() {
      await db.destroy();
    },
  };
}
