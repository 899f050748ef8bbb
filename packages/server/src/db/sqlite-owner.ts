import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { DatabaseSync } from 'node:sqlite';
import { ConfigError } from '../errors.ts';
import { privateFileMode } from '../private-files.ts';
import { createPrivately } from './connection.ts';

/** Who holds an SQLite database, written beside the lock for the message a second server shows. */
interface OwnerInfo {
  pid: number;
  host: string;
  startedAt: string;
  url?: string;
  /** Started with --until-replaced: a server started later on the same database stops it and takes over. */
  untilReplaced: boolean;
}

export interface SqliteOwnership {
  /** Records the address the server listens on, for the message a second server shows. */
  listening(url: string): void;
  release(): void;
}

export interface ClaimOptions {
  untilReplaced?: boolean;
  /** How long to wait for a server started with --until-replaced to stop. */
  takeOverMs?: number;
}

/**
 * Makes this process the one server of an SQLite database. The lock is an exclusive transaction on a
 * small file beside it, so the kernel drops it when the process dies, even by `kill -9`: no stale lock.
 * A second server on the same file would keep its own caches and wake-ups, so it is refused.
 */
export async function claimSqliteDatabase(database: string, opts: ClaimOptions = {}): Promise<SqliteOwnership> {
  const lockPath = `${database}.owner`;
  const infoPath = `${database}.owner.json`;
  createPrivately(lockPath);
  const lock = new DatabaseSync(lockPath, { timeout: 0 });
  const deadline = Date.now() + (opts.takeOverMs ?? 30_000);
  let askedToStop = false;
  for (;;) {
    try {
      lock.exec('PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE');
      break;
    } catch (err) {
      if (!isBusy(err)) {
        lock.close();
        throw err;
      }
      const holder = readInfo(infoPath);
      if (holder?.untilReplaced && holder.host === hostname() && Date.now() < deadline) {
        // A server started by hand to bootstrap gives way to the one that replaces it.
        if (!askedToStop) askedToStop = signal(holder.pid);
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      lock.close();
      throw new ConfigError(refusal(database, holder));
    }
  }
  const info: OwnerInfo = {
    pid: process.pid,
    host: hostname(),
    startedAt: new Date().toISOString(),
    untilReplaced: opts.untilReplaced ?? false,
  };
  const write = () => writeFileSync(infoPath, `${JSON.stringify(info)}\n`, { mode: privateFileMode });
  write();
  let released = false;
  return {
    listening(url) {
      info.url = url;
      write();
    },
    release() {
      if (released) return;
      released = true;
      rmSync(infoPath, { force: true });
      lock.exec('ROLLBACK');
      lock.close();
    },
  };
}

function isBusy(err: unknown): boolean {
  const code = (err as { errcode?: number }).errcode;
  return code === 5 || code === 6;
}

function readInfo(path: string): OwnerInfo | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as OwnerInfo;
  } catch {
    return undefined;
  }
}

function signal(pid: number): boolean {
  try {
    process.kill(pid, 'SIGTERM');
    return true;
  } catch {
    return false;
  }
}

function refusal(database: string, holder: OwnerInfo | undefined): string {
  const who = holder
    ? `another flotilla server (pid ${holder.pid} on ${holder.host}${holder.url ? `, listening on ${holder.url}` : ''}, started ${holder.startedAt})`
    : 'another flotilla server';
  return (
    `${who} is using the SQLite database ${database}; one SQLite database serves one server. ` +
    'Stop that server first, or run several servers on one PostgreSQL database (--database postgres://…, docs/operations.md)'
  );
}
