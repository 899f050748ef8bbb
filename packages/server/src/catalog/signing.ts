import { canonicalJson } from '@flotilla/protocol';
// Ed25519 signing of version manifests. Only node built-ins here, so agents can reuse the verification.

import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** What the server signs for each version; `publishedAt` is ISO-8601 UTC. */
export interface ManifestPayload {
  service: string;
  version: string;
  /** `sha256:<hex>` of the artifact. */
  digest: string;
  size: number;
  manifest: unknown;
  publishedAt: string;
}

export interface SignedManifest {
  /** The exact canonical JSON bytes (UTF-8) that the signature covers. */
  signedManifest: string;
  /** Base64 Ed25519 signature. */
  signature: string;
}

export function signManifest(privateKey: KeyObject, payload: ManifestPayload): SignedManifest {
  const signedManifest = canonicalJson(payload);
  const signature = sign(null, Buffer.from(signedManifest, 'utf8'), privateKey).toString('base64');
  return { signedManifest, signature };
}

/** True only when `signature` is a valid Ed25519 signature by this key over exactly `signedManifest`. */
export function verifySignedManifest(publicKeyPem: string, signed: SignedManifest): boolean {
  try {
    const key = createPublicKey(publicKeyPem);
    if (key.asymmetricKeyType !== 'ed25519') return false;
    return verify(null, Buffer.from(signed.signedManifest, 'utf8'), key, Buffer.from(signed.signature, 'base64'));
  } catch {
    return false;
  }
}

/** SHA-256 (hex) of the raw 32-byte public key: a short, stable name to pin. */
export function keyIdOf(publicKey: KeyObject | string): string {
  const key = typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey;
  const raw = Buffer.from(key.export({ format: 'jwk' }).x as string, 'base64url');
  return createHash('sha256').update(raw).digest('hex');
}

export interface SigningKeyPair {
  privateKey: KeyObject;
  publicKeyPem: string;
  keyId: string;
}

/** Loads `<dataDir>/signing/ed25519.pem`, creating it (0600, directory 0700) on first use. */
export function loadOrCreateSigningKey(dataDir: string): SigningKeyPair {
  const dir = join(dataDir, 'signing');
  const file = join(dir, 'ed25519.pem');
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    pem = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    // Written whole then renamed, so a crash never leaves a truncated key behind.
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, pem, { mode: 0o600 });
    renameSync(tmp, file);
  }
  const privateKey = createPrivateKey(pem);
  const publicKey = createPublicKey(privateKey);
  return {
    privateKey,
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    keyId: keyIdOf(publicKey),
  };
}

export { canonicalJson };
