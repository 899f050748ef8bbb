// A fleet node's identity: a renewed certificate is served to new connections while the node stays in
// the mesh, and only certificates of the mesh CA and of this environment get past the mesh port.
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { meshCaLoader } from '../../../server/src/mesh/ca.ts';
import { makeTempDir } from '../../../server/test/support/temp-dir.ts';
import type { FleetIdentity, FleetNode } from './fleet-node.ts';
import { startFleetNode } from './fleet-node.ts';
import { writeEchoResponse } from './probe-echo.ts';
import { type ProbeResult, startProber } from './probe-runner.ts';

const ca = meshCaLoader(makeTempDir('flotilla-fleet-node-'));

async function identity(instance: string, environment = 'production', lifetimeMs = 3600_000): Promise<FleetIdentity> {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const authority = await ca();
  const issued = await authority.issue({
    environment,
    instance,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    lifetimeMs,
  });
  return {
    certificate: issued.certificatePem,
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    ca: authority.certificatePem,
  };
}

/** The certificate the node's port presents to a client showing `client`'s certificate. */
function servedCertificate(port: number, client: FleetIdentity): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: '127.0.0.1',
      port,
      ca: client.ca,
      cert: client.certificate,
      key: client.key,
      checkServerIdentity: () => undefined,
    });
    socket.once('secureConnect', () => {
      const cert = socket.getPeerX509Certificate();
      socket.destroy();
      if (cert) resolve(cert);
      else reject(new Error('no certificate'));
    });
    socket.once('error', reject);
  });
}

const quiet = () => {};

describe('fleet node', () => {
  const nodes: FleetNode[] = [];
  const start = async (name: string, id: FleetIdentity) => {
    const node = await startFleetNode({
      name,
      environment: 'production',
      listenAddress: '127.0.0.1',
      listenPort: 0,
      advertiseHost: '127.0.0.1',
      identity: id,
      maxPeersPerRound: null,
      probeIntervalMs: 200,
      log: quiet,
    });
    nodes.push(node);
    return node;
  };
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((n) => n.stop()));
  });

  it('joins through the peers the server lists, and keeps its membership across a renewal', async () => {
    const a = await start('node-a', await identity('node-a'));
    const b = await start('node-b', await identity('node-b'));
    b.offerPeers([{ instance: 'node-a', address: a.address }]);
    const alive = (node: FleetNode, peer: string) => node.members().some((m) => m.name === peer && m.state === 'alive');
    const deadline = Date.now() + 10_000;
    while (!(alive(a, 'node-b') && alive(b, 'node-a')) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    expect(alive(a, 'node-b') && alive(b, 'node-a')).toBe(true);

    const client = await identity('node-b');
    const before = await servedCertificate(a.port, client);
    const renewed = await identity('node-a');
    await a.update(renewed, null);
    const after = await servedCertificate(a.port, client);
    expect(after.serialNumber).not.toBe(before.serialNumber);
    expect(after.serialNumber).toBe(new X509Certificate(renewed.certificate).serialNumber);
    // Probes and gossip go on over the new certificate: nobody is suspected.
    await new Promise((r) => setTimeout(r, 1500));
    expect(alive(a, 'node-b') && alive(b, 'node-a')).toBe(true);
    expect(a.members().find((m) => m.name === 'node-a')?.state).toBe('alive');
  }, 30_000);

  it('answers 403 to a certificate of another environment on the mesh port', async () => {
    const a = await start('node-a', await identity('node-a'));
    const stranger = await identity('node-x', 'staging');
    const status = await new Promise<string>((resolve, reject) => {
      const socket = connect({
        host: '127.0.0.1',
        port: a.port,
        ca: stranger.ca,
        cert: stranger.certificate,
        key: stranger.key,
        checkServerIdentity: () => undefined,
      });
      let text = '';
      socket.once('secureConnect', () => socket.write('GET /mesh/v1/echo HTTP/1.1\r\nhost: x\r\n\r\n'));
      socket.on('data', (chunk) => {
        text += chunk.toString();
      });
      socket.once('end', () => resolve(text.split('\r\n')[0] ?? ''));
      socket.once('error', reject);
    });
    expect(status).toBe('HTTP/1.1 403 Forbidden');
  }, 15_000);
});

describe('fleet prober', () => {
  it('probes only peers whose certificate is of its environment and names the peer dialled', async () => {
    const own = await identity('prober');
    // One echo server per certificate: the right peer, another environment, another instance.
    const served = {
      right: await identity('peer-right'),
      'other-env': await identity('peer-other-env', 'staging'),
      'other-name': await identity('someone-else'),
    };
    const servers = await Promise.all(
      Object.entries(served).map(async ([label, id]) => {
        const server = createServer(
          { cert: id.certificate, key: id.key, ca: id.ca, requestCert: true, rejectUnauthorized: true },
          (_req, res) => writeEchoResponse(res, `peer-${label}`),
        );
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        return { label, server, port: (server.address() as AddressInfo).port };
      }),
    );
    const results: ProbeResult[] = [];
    const prober = startProber({
      self: 'prober',
      tls: { ca: own.ca, cert: own.certificate, key: own.key, environment: 'production' },
      intervalMs: 100,
      maxPeersPerRound: 3,
      onResult: (r) => results.push(r),
    });
    try {
      prober.setPeers(servers.map((s) => ({ name: `peer-${s.label}`, address: `127.0.0.1:${s.port}` })));
      const request = (peer: string) =>
        results.filter((r) => r.peer === peer).flatMap((r) => r.samples.filter((s) => s.phase === 'request'));
      const deadline = Date.now() + 10_000;
      while (servers.some((s) => request(`peer-${s.label}`).length < 2) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      expect(request('peer-right').every((s) => s.ok)).toBe(true);
      for (const peer of ['peer-other-env', 'peer-other-name']) {
        const samples = [...request(peer), ...results.filter((r) => r.peer === peer).flatMap((r) => r.samples)];
        expect(samples.length).toBeGreaterThan(0);
        expect(samples.filter((s) => s.phase === 'request' || s.phase === 'tls').every((s) => !s.ok)).toBe(true);
      }
      const tlsError = results.find((r) => r.peer === 'peer-other-env')?.samples.find((s) => s.phase === 'tls');
      expect(tlsError?.error).toMatch(/staging|environment/);
    } finally {
      await prober.stop();
      await Promise.all(servers.map((s) => new Promise((r) => s.server.close(r))));
    }
  }, 20_000);
});
