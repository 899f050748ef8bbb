// The provider's signing key as this consumer pinned it: trusted on first use (or given), kept in
// `<dataDir>/federation/provider-key.json` 0600, and never replaced by what a provider later offers.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { keyIdOf } from '../catalog/signing.ts';
import { makePrivateDir, privateFileMode } from '../private-files.ts';

export interface PinnedKey {
  providerUrl: string;
  keyId: string;
  publicKeyPem: string;
  pinnedAt: string;
}

export function federationDir(dataDir: string): string {
  return join(dataDir, 'federation');
}

const pinFile = (dataDir: string) => join(federationDir(dataDir), 'provider-key.json');

/** The pinned key for `providerUrl`; a pin of another provider does not count. */
export function readPin(dataDir: string, providerUrl: string): PinnedKey | undefined {
  try {
    const pin = JSON.parse(readFileSync(pinFile(dataDir), 'utf8')) as PinnedKey;
    return pin.providerUrl === providerUrl ? pin : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Pins `publicKeyPem` for `providerUrl` (written whole, then renamed). */
export function writePin(dataDir: string, providerUrl: string, publicKeyPem: string, at = new Date()): PinnedKey {
  const pin: PinnedKey = { providerUrl, keyId: keyIdOf(publicKeyPem), publicKeyPem, pinnedAt: at.toISOString() };
  makePrivateDir(federationDir(dataDir));
  const file = pinFile(dataDir);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(pin, null, 2)}\n`, { mode: privateFileMode });
  renameSync(tmp, file);
  return pin;
}
