// This host's identity and the trusted signing key, both kept in the agent directory.
import { createPublicKey, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../update/state.ts';
import { keyIdOf, type TrustedKey } from '../update/verify.ts';
import type { AgentApi } from './api.ts';

export function instanceIdFor(dir: string, configured: string | null): string {
  if (configured) return configured;
  const file = join(dir, 'instance-id');
  if (existsSync(file)) {
    const id = readFileSync(file, 'utf8').trim();
    if (id) return id;
  }
  mkdirSync(dir, { recursive: true });
  const id = randomUUID();
  writeFileAtomic(file, `${id}\n`);
  return id;
}

export class TrustError extends Error {
  override name = 'TrustError';
}

function trustOf(pem: string): TrustedKey {
  try {
    return { publicKeyPem: pem, keyId: keyIdOf(createPublicKey(pem)) };
  } catch (err) {
    throw new TrustError(`the signing key is not a valid public key: ${(err as Error).message}`);
  }
}

/**
 * The key every manifest must be signed with: `--signing-key` if given, else the key pinned in
 * `<dir>/signing-key.pem` on first contact (trust on first use). A pinned key never changes by itself.
 */
export async function trustedKey(dir: string, configured: string | null, api: AgentApi): Promise<TrustedKey> {
  if (configured) {
    const pem = configured.includes('BEGIN PUBLIC KEY') ? configured : readFileSync(configured, 'utf8');
    return trustOf(pem);
  }
  const file = join(dir, 'signing-key.pem');
  if (existsSync(file)) return trustOf(readFileSync(file, 'utf8'));
  const served = await api.signingKey();
  const trust = trustOf(served.publicKeyPem);
  if (trust.keyId !== served.keyId) throw new TrustError('the server sent a key whose id does not match it');
  mkdirSync(dir, { recursive: true });
  writeFileAtomic(file, served.publicKeyPem);
  return trust;
}
