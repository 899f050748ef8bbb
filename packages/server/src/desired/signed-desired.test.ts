import { generateKeyPairSync, verify } from 'node:crypto';
import { canonicalJson, type DesiredStatement } from '@flotilla/protocol';
import { describe, expect, it } from 'vitest';
import { keyIdOf } from '../catalog/signing.ts';
import { createDesiredSigner, type DesiredAnswerBody, desiredReuseMs, desiredValidityMs } from './signed-desired.ts';

const pair = generateKeyPairSync('ed25519');
const key = () => ({ privateKey: pair.privateKey, publicKeyPem: '', keyId: keyIdOf(pair.publicKey) });
const digest = (c: string) => `sha256:${c.repeat(64)}`;
const body = (revision = 7, version = '2.0.0'): DesiredAnswerBody => ({
  environment: 'production',
  profile: null,
  revision,
  services: [
    { service: 'web', version, digest: digest('b'), size: 20 },
    { service: 'api', version: '1.0.0', digest: digest('a'), size: 10 },
  ],
});

describe('signed desired answers', () => {
  it('signs environment, profile, revision, services with digests and sizes, issue time and expiry', () => {
    const at = Date.parse('2026-03-01T10:00:00Z');
    const signer = createDesiredSigner({ key, now: () => at });
    const signed = signer.sign(body());
    expect(signed.keyId).toBe(keyIdOf(pair.publicKey));
    expect(verify(null, Buffer.from(signed.statement), pair.publicKey, Buffer.from(signed.signature, 'base64'))).toBe(
      true,
    );
    const statement = JSON.parse(signed.statement) as DesiredStatement;
    expect(canonicalJson(statement)).toBe(signed.statement);
    expect(statement).toEqual({
      environment: 'production',
      profile: null,
      revision: 7,
      services: [
        { service: 'api', version: '1.0.0', digest: digest('a'), size: 10 },
        { service: 'web', version: '2.0.0', digest: digest('b'), size: 20 },
      ],
      issuedAt: '2026-03-01T10:00:00.000Z',
      expiresAt: new Date(at + desiredValidityMs).toISOString(),
    });
    expect(desiredValidityMs).toBe(3_600_000);
  });

  it('reuses a signature per environment, revision and profile for a while, and never an expired one', () => {
    let at = Date.parse('2026-03-01T10:00:00Z');
    const signer = createDesiredSigner({ key, now: () => at });
    const first = signer.sign(body());
    for (let i = 0; i < 100; i++) expect(signer.sign(body())).toEqual(first);
    expect(signer.signatures).toBe(1);
    // Another revision, profile or content is another statement.
    expect(signer.sign(body(8)).statement).not.toBe(first.statement);
    expect(signer.sign({ ...body(), profile: 'edge' }).statement).toContain('"profile":"edge"');
    expect(signer.sign(body(7, '2.0.1')).statement).toContain('2.0.1');
    expect(signer.signatures).toBe(4);
    // Past the reuse window a fresh one is signed; whatever is served always has most of its validity left.
    at += desiredReuseMs;
    const later = signer.sign(body());
    expect(later.statement).not.toBe(first.statement);
    const base = at;
    for (const step of [0, desiredReuseMs / 2, desiredReuseMs - 1, desiredReuseMs, 3 * desiredReuseMs]) {
      at = base + step;
      const served = JSON.parse(signer.sign(body()).statement) as DesiredStatement;
      expect(Date.parse(served.expiresAt) - at).toBeGreaterThan(desiredValidityMs - desiredReuseMs);
    }
  });

  it('never reuses past the validity, however the windows are configured', () => {
    let at = 0;
    const signer = createDesiredSigner({ key, now: () => at, validityMs: 1000, reuseMs: 60_000 });
    const first = JSON.parse(signer.sign(body()).statement) as DesiredStatement;
    at = 999;
    const second = JSON.parse(signer.sign(body()).statement) as DesiredStatement;
    expect(Date.parse(second.expiresAt)).toBeGreaterThan(at);
    expect(second.issuedAt).not.toBe(first.issuedAt);
  });
});
