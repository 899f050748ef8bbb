// Verification of the server's signed version manifests against a pinned Ed25519 key.
import { createHash, createPublicKey, type KeyObject, verify } from 'node:crypto';
import type { InstallManifest } from '@flotilla/protocol';
import { canonicalJson } from '@flotilla/protocol/canonical-json';

/** The signed payload; see docs/releases.md. */
export interface VerifiedManifest {
  service: string;
  version: string;
  /** `sha256:<hex>` */
  digest: string;
  size: number;
  manifest: InstallManifest;
  publishedAt: string;
}

export interface TrustedKey {
  publicKeyPem: string;
  /** When set, the key must have this id (SHA-256 hex of the raw public key). */
  keyId?: string;
}

export class VerificationError extends Error {
  override name = 'VerificationError';
}

export function keyIdOf(key: KeyObject): string {
  const raw = Buffer.from(key.export({ format: 'jwk' }).x as string, 'base64url');
  return createHash('sha256').update(raw).digest('hex');
}

/**
 * Checks the key id, the signature over the exact bytes of `signedManifest`, that those bytes are
 * canonical, and that they name the expected service and version. Throws VerificationError.
 */
export function verifySignedManifest(
  trust: TrustedKey,
  signed: { signedManifest: string; signature: string },
  expect: { service: string; version: string },
): VerifiedManifest {
  const key = pinnedKey(trust);
  if (!signed.signedManifest || !signed.signature) throw new VerificationError('version is not signed');
  let ok = false;
  try {
    ok = verify(null, Buffer.from(signed.signedManifest, 'utf8'), key, Buffer.from(signed.signature, 'base64'));
  } catch {
    ok = false;
  }
  if (!ok) throw new VerificationError(`bad signature on the manifest of ${expect.service} ${expect.version}`);
  let payload: VerifiedManifest;
  try {
    payload = JSON.parse(signed.signedManifest) as VerifiedManifest;
  } catch {
    throw new VerificationError('signed manifest is not JSON');
  }
  if (canonicalJson(payload) !== signed.signedManifest)
    throw new VerificationError('signed manifest is not canonical JSON');
  if (payload.service !== expect.service || payload.version !== expect.version) {
    throw new VerificationError(
      `signed manifest is for ${payload.service} ${payload.version}, expected ${expect.service} ${expect.version}`,
    );
  }
  if (!/^sha256:[0-9a-f]{64}$/.test(payload.digest) || !Number.isSafeInteger(payload.size) || payload.size < 0) {
    throw new VerificationError('signed manifest has no valid digest or size');
  }
  if (payload.manifest === null || typeof payload.manifest !== 'object')
    throw new VerificationError('signed manifest has no manifest');
  return payload;
}

/** Throws unless `file`'s size and SHA-256 are the signed ones. */
export function checkArtifact(verified: VerifiedManifest, actual: { size: number; sha256: string }): void {
  if (actual.size !== verified.size) {
    throw new VerificationError(`artifact size ${actual.size} differs from the signed size ${verified.size}`);
  }
  if (`sha256:${actual.sha256}` !== verified.digest) {
    throw new VerificationError(`artifact digest sha256:${actual.sha256} differs from the signed ${verified.digest}`);
  }
}

export { canonicalJson };

/** The pinned key as a key object; refuses a key that is not Ed25519 or does not match its pinned id. */
export function pinnedKey(trust: TrustedKey): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(trust.publicKeyPem);
  } catch {
    throw new VerificationError('pinned public key is not a valid PEM key');
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new VerificationError('pinned public key is not Ed25519');
  if (trust.keyId && keyIdOf(key) !== trust.keyId)
    throw new VerificationError('signing key id does not match the pinned key id');
  return key;
}
