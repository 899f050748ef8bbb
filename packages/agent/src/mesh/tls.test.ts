import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerChecker, generateToken } from './mesh-api-auth.ts';
import { makeTestPki, type TestCert, type TestPki } from './tls.test.helper.ts';
import { loadMeshTls, MeshConfigError } from './tls.ts';

let pki: TestPki;
let eagle: TestCert;
beforeAll(() => {
  pki = makeTestPki();
  eagle = pki.node('eagle');
});
afterAll(() => pki.cleanup());

const b64 = (buf: Buffer) => buf.toString('base64');

describe('loadMeshTls', () => {
  it('has no TLS without material, and picks the mode from what is given', () => {
    expect(loadMeshTls({})).toBeUndefined();
    expect(loadMeshTls({ serverCertPath: eagle.certPath, serverKeyPath: eagle.keyPath })?.mode).toBe('server');
    expect(loadMeshTls({ caCertPaths: [pki.caPath] })?.mode).toBe('edge');
    const mutual = loadMeshTls({
      serverCertPath: eagle.certPath,
      serverKeyPath: eagle.keyPath,
      caCertPaths: [pki.caPath],
    });
    expect(mutual?.mode).toBe('mutual');
    expect(mutual?.cert?.equals(eagle.cert)).toBe(true);
    expect(mutual?.ca?.[0]?.equals(pki.ca)).toBe(true);
  });

  it('decodes the base64 flags (certificate, key and CA each from its own value)', () => {
    const tls = loadMeshTls({ serverCert: b64(eagle.cert), serverKey: b64(eagle.key), caCert: b64(pki.ca) });
    expect(tls?.mode).toBe('mutual');
    expect(tls?.cert?.equals(eagle.cert)).toBe(true);
    expect(tls?.key?.equals(eagle.key)).toBe(true);
    expect(tls?.ca?.[0]?.equals(pki.ca)).toBe(true);
  });

  it('refuses incomplete, unreadable, undecodable or mismatched material with a message naming the flag', () => {
    expect(() => loadMeshTls({ serverCertPath: eagle.certPath })).toThrow(/needs its key/);
    expect(() => loadMeshTls({ serverCertPath: '/nonexistent.pem', serverKeyPath: eagle.keyPath })).toThrow(
      /--server-cert-path: cannot read \/nonexistent.pem: ENOENT/,
    );
    expect(() => loadMeshTls({ serverCert: 'bm90IGEgcGVt', serverKey: b64(eagle.key) })).toThrow(
      /--server-cert: not base64 of a PEM/,
    );
    expect(() =>
      loadMeshTls({ serverCertPath: eagle.certPath, serverCert: b64(eagle.cert), serverKeyPath: eagle.keyPath }),
    ).toThrow(/give one of them/);
    const duck = pki.node('duck');
    expect(() => loadMeshTls({ serverCertPath: eagle.certPath, serverKeyPath: duck.keyPath })).toThrow(MeshConfigError);
  });
});

describe('bearerChecker', () => {
  it('accepts any configured token and nothing else', () => {
    const check = bearerChecker(['alpha-token', 'beta-token']);
    expect(check('Bearer alpha-token')).toBe(true);
    expect(check('bearer beta-token')).toBe(true);
    expect(check('Bearer alpha-tokenX')).toBe(false);
    expect(check('Bearer ')).toBe(false);
    expect(check('alpha-token')).toBe(false);
    expect(check(undefined)).toBe(false);
    expect(bearerChecker([])('Bearer alpha-token')).toBe(false);
  });

  it('generates distinct 256-bit tokens', () => {
    const a = generateToken();
    expect(Buffer.from(a, 'base64url')).toHaveLength(32);
    expect(generateToken()).not.toBe(a);
  });
});
