import { chmodSync, closeSync, existsSync, fdatasync, openSync, realpathSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Kysely, PostgresDialect, sql, type Transaction } from 'kysely';
import pg from 'pg';
import { makePrivateDir, privateFileMode } from '../private-files.ts';
import { nodeSqliteDatabase } from './node-sqlite.ts';
import { queuedSqliteDialect } from './queued-sqlite-dialect.ts';
import { tableWriteWatcher } from './table-writes.ts';
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
  /**
   * The same commit, answered in two steps: once the transaction committed (`result`), and once it is
   * durable (`durable`). A writer may start its next transaction meanwhile; concurrent commits share
   * one WAL sync. On PostgreSQL a commit is durable when it returns.
   */
  commitPipelined<T>(work: (tx: Transaction<Tables>) => Promise<T>): Promise<Pipelined<T>>;
  /**
   * One statement, durable when it resolves. On PostgreSQL a lone statement commits by itself, without
   * the BEGIN and COMMIT round trips of a transaction; on SQLite it is commitDurably (the group sync).
   */
  writeOne<T>(work: (db: Kysely<Tables>) => Promise<T>): Promise<T>;
  /**
   * Calls `listener` around every write this process makes to `tables` (Kysely statements; raw SQL
   * is not seen). On SQLite this process is the one writer; on PostgreSQL other replicas write too,
   * so a cache needs their notices as well (cluster/shared-writes.ts).
   */
  watchWrites(tables: string[], listener: () => void): void;
  /**
   * PostgreSQL only: a new connection outside the pool, not yet connected, for sessions that must
   * outlive any one query (LISTEN, advisory locks). Its owner connects, watches and ends it.
   */
  openClient?(applicationName?: string): pg.Client;
  close(): Promise<void>;
}

export interface Pipelined<T> {
  result: T;
  /** Resolves once the commit is on disk; rejects when the sync failed (nothing may be acknowledged). */
  durable: Promise<void>;
}

/** `commitPipelined` where a commit is durable when it returns (PostgreSQL, in-memory SQLite, tests). */
export function commitInOneStep(db: Kysely<Tables>): Database['commitPipelined'] {
  return async (work) => ({ result: await db.transaction().execute(work), durable: Promise.resolve() });
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
  const writes = tableWriteWatcher();
  const db = new Kysely<Tables>({
    dialect: queuedSqliteDialect({ database: nodeSqliteDatabase(file) }),
    plugins: [writes.plugin],
  });
  let walFd: number | null = null;
  // After a failed fsync the kernel may have dropped those WAL frames while reporting later syncs
  // as fine, and recovery stops at the first bad frame: nothing more may be acknowledged.
  let syncFailure: Error | null = null;
  const assertSyncable = () => {
    if (syncFailure) {
      throw new Error(`the SQLite WAL could not be synced (${syncFailure.message}); restart the server`);
    }
  };
  // Group sync: commits are numbered; one fdatasync covers every commit made before it started, so
  // commits that finish while a sync runs share the next one instead of queueing a sync each.
  let committed = 0;
  let synced = 0;
  let syncing: Promise<void> | null = null;
  const waiting: Array<{ seq: number; resolve: () => void; reject: (err: Error) => void }> = [];
  const openWal = async () => {
    if (walFd !== null) return walFd;
    // SQLite names the WAL after the database's real path; its directory entry is synced once,
    // as SQLite itself would on its first WAL sync.
    const real = realpathSync(path);
    walFd = openSync(`${real}-wal`, 'r');
    await syncFile(openSync(dirname(real), 'r'), true);
    return walFd;
  };
  const runSyncs = async () => {
    while (waiting.length > 0) {
      const target = committed;
      try {
        await syncWal(await openWal());
        synced = target;
      } catch (err) {
        syncFailure ??= err as Error;
        for (const w of waiting.splice(0)) w.reject(err as Error);
        return;
      }
      // In commit order, so callers are answered in the order their commits were made.
      const done = waiting.filter((w) => w.seq <= synced);
      waiting.splice(0, waiting.length, ...waiting.filter((w) => w.seq > synced));
      for (const w of done) w.resolve();
    }
  };
  const syncThrough = (seq: number): Promise<void> => {
    if (seq <= synced) return Promise.resolve();
    const durable = new Promise<void>((resolve, reject) => waiting.push({ seq, resolve, reject }));
    syncing ??= runSyncs().finally(() => {
      syncing = null;
    });
    return durable;
  };
  const commitPipelined = async <T>(work: (tx: Transaction<Tables>) => Promise<T>): Promise<Pipelined<T>> => {
    if (path === ':memory:') return commitInOneStep(db)(work);
    assertSyncable();
    // NORMAL leaves this one commit's WAL frames unsynced; the fdatasync syncs them (and any later
    // ones) before anyone is told the commit is durable. Other writers keep FULL.
    const result = await db.connection().execute(async (conn) => {
      await sql`PRAGMA synchronous = NORMAL`.execute(conn);
      try {
        return await conn.transaction().execute(work);
      } finally {
        await sql`PRAGMA synchronous = FULL`.execute(conn);
      }
    });
    committed += 1;
    return { result, durable: syncThrough(committed) };
  };
  async function commitDurably<T>(work: (tx: Transaction<Tables>) => Promise<T>): Promise<T> {
    const { result, durable } = await commitPipelined(work);
    await durable;
    return result;
  }
  return {
    db,
    dialect: 'sqlite',
    description: `SQLite ${path}`,
    async ping() {
      assertSyncable();
      await sql`select 1`.execute(db);
    },
    commitPipelined,
    watchWrites: writes.watch,
    commitDurably,
    writeOne: commitDurably,
    async close() {
      await syncing?.catch(() => {});
      await db.destroy();
      if (walFd !== null) closeSync(walFd);
    },
  };
}

/**
 * Creates the database file 0600 (SQLite gives its -wal and -shm the main file's mode) and tightens
 * files an older version left readable to others.
 */
/** Makes the file (and its directory) readable by this user only; SQLite's WAL and shm files too. */
export function createPrivately(path: string): void {
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
  const writes = tableWriteWatcher();
  const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool }), plugins: [writes.plugin] });
  const safe = new URL(url);
  if (safe.password) safe.password = '***';
  return {
    db,
    dialect: 'postgres',
    commitDurably: (work) => db.transaction().execute(work),
    commitPipelined: commitInOneStep(db),
    writeOne: (work) => work(db),
    watchWrites: writes.watch,
    description: `PostgreSQL ${safe.toString()}`,
    openClient: (applicationName) => {
      // TCP keepalive, so a peer that vanished without closing is noticed and the session replaced.
      const client = new pg.Client({
        connectionString: url,
        keepAlive: true,
        keepAliveInitialDelayMillis: 5000,
        connectionTimeoutMillis: 10_000,
        ...(applicationName ? { application_name: applicationName } : {}),
      });
      client.setTypeParser?.(20, 'text', Number);
      return client;
    },
    async ping() {
      await sql`select 1`.execute(db);
    },
    async close() {
      await db.destroy();
    },
  };
}
