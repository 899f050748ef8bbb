// A connection made with `flotilla federation connect` (PUT /api/v1/federation) outlives restarts in
// `<dataDir>/federation/connection.json` (0600: it holds the consumer token). Server flags win over it.
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makePrivateDir, privateFileMode } from '../private-files.ts';
import type { ProviderConnection } from './follower.ts';
import { federationDir } from './pin.ts';

const file = (dataDir: string) => join(federationDir(dataDir), 'connection.json');

export function readConnection(dataDir: string): ProviderConnection | null {
  try {
    return JSON.parse(readFileSync(file(dataDir), 'utf8')) as ProviderConnection;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export function writeConnection(dataDir: string, c: ProviderConnection): void {
  makePrivateDir(federationDir(dataDir));
  const tmp = `${file(dataDir)}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(c, null, 2)}\n`, { mode: privateFileMode });
  renameSync(tmp, file(dataDir));
}

export function removeConnection(dataDir: string): void {
  rmSync(file(dataDir), { force: true });
}
