import { generateKeyPairSync } from 'node:crypto';
import type { AgentDesired } from '@flotilla/protocol';
import { describe, expect, it } from 'vitest';
import { keyIdOf, signManifest } from '../../../server/src/catalog/signing.ts';
import { createDesiredSigner } from '../../../server/src/desired/signed-desired.ts';
import { desiredClockSkewMs, verifyDesired } from './verify-desired.ts';

// Answers signed by the server's own code, then changed as a proxy on the path would change them.
const pair = generateKeyPairSync('ed25519');
const serverKey = {
  privateKey: pair.privateKey,
  publicKeyPem: pair.publicKey.export({ format: 'pem', type: 'spki' }).toString(),
  keyId: keyIdOf(pair.publicKey),
};
const trust = { publicKeyPem: serverKey.publicKeyPem, keyId: serverKey.keyId };
const issuedAt = Date.parse('2026-03-01T10:00:00Z');
const signer = createDesiredSigner({ key: () => serverKey, now: () => issuedAt });

function entry(service: string, version: string) {
  const digest = `sha256:${Buffer.from(`${service}@${version}`).toString('hex').padEnd(64, '0').slice(0, 64)}`;
  const size = 1000 + version.length;
  const manifest = { run: { command: 'true' } };
  const signed = signManifest(pair.privateKey, { service, version, digest, size, manifest, publishedAt: 'x' });
  const artifactUrl = `/api/v1/services/${service}/versions/${version}/artifact`;
  return { service, version, digest, size, manifest, ...signed, artifactUrl };
}

function answer(revision: number, versions: Record<string, string>, environment = 'production'): AgentDesired {
  const services = Object.entries(versions).map(([s, v]) => entry(s, v));
  return { environment, revision, services, ...signer.sign({ environment, profile: null, revision, services }) };
}

const at = { now: issuedAt + 60_000 };

describe('verifyDesired', () => {
  it('accepts an answer as the server signed it', () => {
    const statement = verifyDesired(trust, answer(7, { web: '2.0.0', api: '1.0.0' }), at);
    expect(statement).toMatchObject({ environment: 'production', profile: null, revision: 7 });
  });

  it('a proxy swapping desired 2.0.0 for a genuine signed 1.0.0 is refused', () => {
    const current = answer(7, { web: '2.0.0', api: '1.0.0' });
    const genuineOld = entry('web', '1.0.0');
    const swapped = { ...current, services: current.services.map((s) => (s.service === 'web' ? genuineOld : s)) };
    expect(() => verifyDesired(trust, swapped, at)).toThrow(/offers web 1\.0\.0, the signed desired list says 2\.0\.0/);
    // Keeping the version's name but its old bytes (digest and signed manifest) is refused too.
    const sameName = {
      ...current,
      services: current.services.map((s) =>
        s.service === 'web' ? { ...genuineOld, version: '2.0.0', digest: s.digest, size: s.size } : s,
      ),
    };
    expect(() => verifyDesired(trust, sameName, at)).toThrow(/web 2\.0\.0: its manifest digest/);
    // And a whole genuine older answer only passes the signature check: the revision check is AppliedRevision's.
    expect(verifyDesired(trust, answer(6, { web: '1.0.0', api: '1.0.0' }), at).revision).toBe(6);
  });

  it('refuses an answer that differs from its statement in environment, revision or services', () => {
    const good = answer(7, { web: '2.0.0', api: '1.0.0' });
    expect(() => verifyDesired(trust, { ...good, revision: 8 }, at)).toThrow(/signature covers production revision 7/);
    expect(() => verifyDesired(trust, { ...good, environment: 'test' }, at)).toThrow(/signature covers production/);
    expect(() => verifyDesired(trust, { ...good, services: good.services.slice(0, 1) }, at)).toThrow(
      /leaves out signed services: api/,
    );
    const extra = { ...good, services: [...good.services, entry('db', '1.0.0')] };
    expect(() => verifyDesired(trust, extra, at)).toThrow(/db 1\.0\.0 is not in the signed desired list/);
    const resized = { ...good, services: good.services.map((s) => ({ ...s, size: s.size + 1 })) };
    expect(() => verifyDesired(trust, resized, at)).toThrow(/its size/);
    const other = answer(7, { web: '2.0.0' }, 'test');
    expect(() => verifyDesired(trust, other, { ...at, environment: 'production' })).toThrow(
      /signed for environment "test", but this agent is in "production"/,
    );
  });

  it('refuses unsigned answers, changed statements and other keys', () => {
    const good = answer(7, { web: '2.0.0' });
    expect(() => verifyDesired(trust, { ...good, statement: '', signature: '' }, at)).toThrow(/not signed/);
    const edited = good.statement.replace('"revision":7', '"revision":9');
    expect(() => verifyDesired(trust, { ...good, statement: edited, revision: 9 }, at)).toThrow(/bad signature/);
    const stranger = generateKeyPairSync('ed25519').publicKey.export({ format: 'pem', type: 'spki' }).toString();
    expect(() => verifyDesired({ publicKeyPem: stranger }, good, at)).toThrow(/bad signature/);
    expect(() => verifyDesired(trust, { ...good, keyId: 'ab'.repeat(32) }, at)).toThrow(/not the pinned/);
  });

  it('a stale answer is refused, allowing modest clock skew', () => {
    const good = answer(7, { web: '2.0.0' });
    const expires = issuedAt + 3_600_000;
    expect(verifyDesired(trust, good, { now: expires + desiredClockSkewMs - 1 }).revision).toBe(7);
    expect(() => verifyDesired(trust, good, { now: expires + desiredClockSkewMs + 1 })).toThrow(
      /expired at 2026-03-01T11:00:00\.000Z: a stale or replayed answer/,
    );
  });
});
