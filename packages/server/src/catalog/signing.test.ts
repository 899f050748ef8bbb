import { generateKeyPairSync } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeTempDir } from '../../test/support/temp-dir.ts';
import { canonicalJson, keyIdOf, loadOrCreateSigningKey, signManifest, verifySignedManifest } from './signing.ts';

const payload = {
  service: 'web',
  version: '1.2.3',
  digest: `sha256:${'ab'.repeat(32)}`,
  size: 42,
  manifest: { run: { command: './server', args: ['%%role%%'] } },
  publishedAt: '2026-01-01T00:00:00.000Z',
};

describe('manifest signing', () => {
  it('writes canonical JSON with sorted keys and no spaces', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, 'x'], c: null }, u: undefined })).toBe(
      '{"a":{"c":null,"d":[1,"x"]},"b":1}',
    );
  });

  it('creates the key once, private, and verifies its signatures', () => {
    const dir = makeTempDir('flotilla-sign-');
    const key = loadOrCreateSigningKey(dir);
    expect(statSync(join(dir, 'signing', 'ed25519.pem')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'signing')).mode & 0o777).toBe(0o700);
    expect(loadOrCreateSigningKey(dir).keyId).toBe(key.keyId);
    expect(key.keyId).toMatch(/^[0-9a-f]{64}$/);
    expect(keyIdOf(key.publicKeyPem)).toBe(key.keyId);

    const signed = signManifest(key.privateKey, payload);
    expect(JSON.parse(signed.signedManifest)).toEqual(payload);
    expect(verifySignedManifest(key.publicKeyPem, signed)).toBe(true);
  });

  it('detects a changed byte, a changed signature and another key', () => {
    const key = loadOrCreateSigningKey(makeTempDir('flotilla-sign-'));
    const signed = signManifest(key.privateKey, payload);
    const tampered = signed.signedManifest.replace('"size":42', '"size":43');
    expect(tampered).not.toBe(signed.signedManifest);
    expect(verifySignedManifest(key.publicKeyPem, { ...signed, signedManifest: tampered })).toBe(false);
    const sig = Buffer.from(signed.signature, 'base64');
    sig[0] = (sig[0] as number) ^ 1;
    expect(verifySignedManifest(key.publicKeyPem, { ...signed, signature: sig.toString('base64') })).toBe(false);
    const other = generateKeyPairSync('ed25519').publicKey.export({ format: 'pem', type: 'spki' }).toString();
    expect(verifySignedManifest(other, signed)).toBe(false);
    expect(verifySignedManifest('not a key', signed)).toBe(false);
  });
});
