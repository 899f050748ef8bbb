// The mesh CA: made once (0600), signs short-lived certificates naming instance and environment, and
// the peer check refuses certificates of another environment, another CA, or out of their validity.
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { connect, createServer, type TLSSocket } from 'node:tls';
import { checkMeshPeer, MeshPeerRefused, meshServerIdentityCheck } from '@flotilla/protocol/mesh-peer';
import { describe, expect, it } from 'vitest';
import { makeTempDir } from '../../test/support/temp-dir.ts';
import { meshCaLoader } from './ca.ts';

const day = 24 * 3600_000;
const keyPair = () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    keyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
  };
};

describe('mesh CA', () => {
  it('creates its root once, private, and keeps it across loads', async () => {
    const dataDir = makeTempDir();
    const first = await meshCaLoader(dataDir)();
    expect(statSync(join(dataDir, 'mesh', 'ca.pem')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dataDir, 'mesh')).mode & 0o777).toBe(0o700);
    const again = await meshCaLoader(dataDir)();
    expect(again.certificatePem).toBe(first.certificatePem);
  });

  it('issues certificates the peer check accepts for the same environment only', async () => {
    const ca = await meshCaLoader(makeTempDir())();
    const { publicKeyPem } = keyPair();
    const issued = await ca.issue({ environment: 'production', instance: 'web 01/a', publicKeyPem, lifetimeMs: day });
    expect(issued.uri).toBe('flotilla://production/web%2001%2Fa');
    const peer = checkMeshPeer(issued.certificatePem, { ca: ca.certificatePem, environment: 'production' });
    expect(peer).toMatchObject({ environment: 'production', instance: 'web 01/a' });
    expect(Math.abs(peer.expiresAt.getTime() - issued.expiresAt.getTime())).toBeLessThan(1000);

    expect(() => checkMeshPeer(issued.certificatePem, { ca: ca.certificatePem, environment: 'staging' })).toThrow(
      /belongs to environment "production", not "staging"/,
    );
    const later = new Date(Date.now() + 2 * day);
    expect(() =>
      checkMeshPeer(issued.certificatePem, { ca: ca.certificatePem, environment: 'production', now: later }),
    ).toThrow(/not now/);
    // The CA's own certificate is not a peer.
    expect(() => checkMeshPeer(ca.certificatePem, { ca: ca.certificatePem, environment: 'production' })).toThrow(
      MeshPeerRefused,
    );
  });

  it('refuses a certificate from another CA, even one naming the right environment', async () => {
    const ours = await meshCaLoader(makeTempDir())();
    const theirs = await meshCaLoader(makeTempDir())();
    const forged = await theirs.issue({
      environment: 'production',
      instance: 'intruder',
      publicKeyPem: keyPair().publicKeyPem,
      lifetimeMs: day,
    });
    expect(() => checkMeshPeer(forged.certificatePem, { ca: ours.certificatePem, environment: 'production' })).toThrow(
      /not signed by the mesh CA/,
    );
    // Both CAs trusted (a rotation): accepted.
    expect(
      checkMeshPeer(forged.certificatePem, {
        ca: [ours.certificatePem, theirs.certificatePem],
        environment: 'production',
      }).instance,
    ).toBe('intruder');
  });

  it('refuses keys that are not ECDSA P-256 SPKI', async () => {
    const ca = await meshCaLoader(makeTempDir())();
    const ed = generateKeyPairSync('ed25519').publicKey.export({ format: 'pem', type: 'spki' }).toString();
    await expect(ca.issue({ environment: 'e', instance: 'i', publicKeyPem: ed, lifetimeMs: day })).rejects.toThrow(
      /ECDSA P-256/,
    );
    await expect(ca.issue({ environment: 'e', instance: 'i', publicKeyPem: 'nope', lifetimeMs: day })).rejects.toThrow(
      /SPKI PEM/,
    );
  });

  it('carries a mutual TLS handshake between two issued nodes', async () => {
    const ca = await meshCaLoader(makeTempDir())();
    const node = async (instance: string) => {
      const k = keyPair();
      const { certificatePem } = await ca.issue({
        environment: 'production',
        instance,
        publicKeyPem: k.publicKeyPem,
        lifetimeMs: day,
      });
      return { key: k.keyPem, cert: certificatePem, ca: ca.certificatePem };
    };
    const [a, b] = [await node('a'), await node('b')];
    const seen: string[] = [];
    const server = createServer({ ...a, requestCert: true, rejectUnauthorized: true }, (socket) => {
      const cert = socket.getPeerX509Certificate();
      if (cert) seen.push(checkMeshPeer(cert, { ca: ca.certificatePem, environment: 'production' }).instance);
      socket.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const answer = await new Promise<string>((resolve, reject) => {
        const socket: TLSSocket = connect({
          ...b,
          host: '127.0.0.1',
          port,
          checkServerIdentity: meshServerIdentityCheck({
            ca: ca.certificatePem,
            environment: 'production',
            instance: 'a',
          }),
        });
        let text = '';
        socket.on('data', (d) => {
          text += d;
        });
        socket.on('end', () => resolve(text));
        socket.on('error', reject);
      });
      expect(answer).toBe('ok');
      expect(seen).toEqual(['b']);
      const wrong = meshServerIdentityCheck({ ca: ca.certificatePem, environment: 'production', instance: 'c' });
      const raw = new X509Certificate(a.cert).raw;
      expect(wrong('127.0.0.1', { raw })?.message).toBe('dialled "c" but the peer is "a"');
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
