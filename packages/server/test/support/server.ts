import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { resolveServerConfig } from '../../src/config/config.ts';
import type { ServerOptions } from '../../src/config/schema.ts';
import { copyHeldKeys } from '../../src/server-keys/held-keys.ts';
import { type RunningServer, type StartOptions, startServer } from '../../src/start.ts';
import { createTestDatabase, type StoreKind, type TestDatabase } from './databases.ts';
import { makeTempDir } from './temp-dir.ts';

export const adminToken = 'flt_test_admin_token_0123456789abcdef';

export interface TestServer extends RunningServer {
  dir: string;
  /** The store's location, to open a second connection and look at what was stored. */
  database: string;
  stop(): Promise<void>;
}

/** Writes a file into a fresh temp dir and returns its path. */
export function writeTemp(dir: string, name: string, data: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof data === 'string' ? data : JSON.stringify(data));
  return path;
}

/**
 * A fresh data directory holding the keys of another server's (signing, mesh CA, sealing key), as a
 * replica on the same PostgreSQL must: a replica with keys of its own is refused at start.
 */
export function dataDirWithKeysOf(dir: string): string {
  const copy = makeTempDir('flotilla-replica-');
  copyHeldKeys(dir, copy);
  return copy;
}

/** Starts a real server on a loopback port with its own data dir (removed when the test file ends) and store. */
export async function startTestServer(
  kind: StoreKind,
  flags: ServerOptions = {},
  opts: { reloadIntervalMs?: number; dir?: string; start?: StartOptions } = {},
): Promise<TestServer> {
  const dir = opts.dir ?? makeTempDir('flotilla-srv-');
  let db: TestDatabase | null = null;
  if (!flags.database) {
    db = await createTestDatabase(kind);
    flags = { ...flags, database: db.location };
  }
  const config = resolveServerConfig(
    { host: '127.0.0.1', port: '0', dataDir: dir, geodb: 'off', ...flags },
    { FLOTILLA_ADMIN_TOKEN: adminToken, FLOTILLA_CHECKIN_THREADS: process.env.FLOTILLA_TEST_CHECKIN_THREADS },
    dir,
  );
  const server = await startServer(config, {
    logger: pino({ level: 'silent' }),
    reloadIntervalMs: opts.reloadIntervalMs ?? 50,
    catalogRefreshMs: 100,
    ...opts.start,
  });
  return {
    ...server,
    dir,
    database: flags.database as string,
    async stop() {
      await server.close();
      await db?.drop();
    },
  };
}
