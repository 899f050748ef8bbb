import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { makePrivateDir, privateFileMode } from '../private-files.ts';

// AES-256-GCM for services' private files. The service and path are the associated data, so a
// ciphertext copied onto another file's row fails to decrypt instead of handing out the wrong secret.

export interface PrivateFileKey {
  key: Buffer;
  /** First 16 hex digits of the key's sha256: names the key on each row without revealing it. */
  id: string;
}

export interface Sealed {
  keyId: string;
  nonce: string;
  ciphertext: string;
}

const keyFile = 'private-files.key';

function keyOf(bytes: Buffer, where: string): PrivateFileKey {
  if (bytes.length !== 32)
    throw new Error(`${where}: the private files key must be 32 bytes (base64), not ${bytes.length}`);
  return { key: bytes, id: createHash('sha256').update(bytes).digest('hex').slice(0, 16) };
}

/** The key from FLOTILLA_PRIVATE_FILES_KEY, else `<data dir>/private-files.key` (made 0600 on first use). */
export function loadPrivateFileKey(dataDir: string, fromEnv: string | null | undefined): PrivateFileKey {
  if (fromEnv) return keyOf(Buffer.from(fromEnv, 'base64'), 'FLOTILLA_PRIVATE_FILES_KEY');
  const path = join(dataDir, keyFile);
  if (!existsSync(path)) {
    makePrivateDir(dataDir);
    try {
      // 'wx': two servers starting on one data dir never overwrite each other's key.
      const fd = openSync(path, 'wx', privateFileMode);
      writeSync(fd, `${randomBytes(32).toString('base64')}\n`);
      closeSync(fd);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  return keyOf(Buffer.from(readFileSync(path, 'utf8').trim(), 'base64'), path);
}

const aad = (service: string, path: string) => Buffer.from(`${service}\0${path}`);

export function seal(k: PrivateFileKey, service: string, path: string, plaintext: Buffer): Sealed {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', k.key, nonce);
  cipher.setAAD(aad(service, path));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return { keyId: k.id, nonce: nonce.toString('base64'), ciphertext: body.toString('base64') };
}

/** Throws when the row was sealed with another key, for another file, or was altered. */
export function open(k: PrivateFileKey, service: string, path: string, sealed: Sealed): Buffer {
  if (sealed.keyId !== k.id)
    throw new Error(`sealed with key ${sealed.keyId}, but the server holds key ${k.id} (FLOTILLA_PRIVATE_FILES_KEY)`);
  const body = Buffer.from(sealed.ciphertext, 'base64');
  const decipher = createDecipheriv('aes-256-gcm', k.key, Buffer.from(sealed.nonce, 'base64'));
  decipher.setAAD(aad(service, path));
  decipher.setAuthTag(body.subarray(body.length - 16));
  try {
    return Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]);
  } catch {
    throw new Error('does not decrypt: altered, or stored for another file');
  }
}
