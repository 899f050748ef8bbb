// This instance's identity on the server: enrolled once with the agent token, then every call uses
// the instance credential kept in `<dir>/instance-credential` (0600), beside the instance's own
// Ed25519 key pair (`instance-key.pem`, 0600), whose public half the server keeps for certificates.
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type { AgentEnrolled } from '@flotilla/protocol';
import { fsyncDir } from '../journal/journal.ts';
import { httpRequest } from './http-request.ts';

export const credentialFile = 'instance-credential';
export const instanceKeyFile = 'instance-key.pem';

/** A refusal of the enrolment or of the credential that retrying cannot fix; the agent stops. */
export class EnrolmentError extends Error {
  override name = 'EnrolmentError';
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** Writes a private file (0600) atomically: created 0600, synced, renamed over the old one. */
export function writePrivateFile(file: string, text: string): void {
  mkdirSync(join(file, '..'), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp`;
  rmSync(tmp, { force: true });
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
  // A credential lost to a crash would need an admin to revoke the instance before it could enrol again.
  fsyncDir(join(file, '..'));
}

export function readCredential(dir: string): string | null {
  const file = join(dir, credentialFile);
  if (!existsSync(file)) return null;
  const credential = readFileSync(file, 'utf8').trim();
  return credential === '' ? null : credential;
}

/** The instance's public key (SPKI PEM), made with its private key on first use. */
export function instancePublicKey(dir: string): string {
  const file = join(dir, instanceKeyFile);
  if (!existsSync(file)) {
    const { privateKey } = generateKeyPairSync('ed25519');
    writePrivateFile(file, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  }
  const privateKey = createPrivateKey(readFileSync(file, 'utf8'));
  return createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
}

/** Enrols with the agent token and keeps the credential; transient failures throw plain errors. */
export async function enrol(
  server: string,
  token: string,
  dir: string,
  instanceId: string,
  signal?: AbortSignal,
): Promise<string> {
  const publicKey = instancePublicKey(dir);
  const res = await httpRequest(`${server}/api/v1/agent/enroll`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    json: { instanceId, publicKey },
    timeoutMs: 30_000,
    ...(signal ? { signal } : {}),
  });
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try {
      const body = await res.json<{ error?: { message?: string } }>(64 * 1024);
      if (body.error?.message) message = body.error.message;
    } catch {}
    // 5xx, 408 and 429 may pass; a refusal (401, 403, 409) will not.
    if (res.status >= 500 || res.status === 408 || res.status === 429) {
      throw new Error(`enrolment: ${res.status}: ${message}`);
    }
    throw new EnrolmentError(res.status, `the server refused to enrol instance "${instanceId}": ${message}`);
  }
  const enrolled = await res.json<AgentEnrolled>();
  writePrivateFile(join(dir, credentialFile), `${enrolled.credential}\n`);
  return enrolled.credential;
}
