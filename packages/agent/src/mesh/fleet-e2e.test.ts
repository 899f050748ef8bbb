// The mesh in the fleet, end to end: a real server and three real agents on loopback in one environment.
// Switched on, the agents find each other through the server, probe each other over mutual TLS and the
// server's view shows every pair; a node of another environment is refused; switched off, the nodes stop.
import { generateKeyPairSync } from 'node:crypto';
import https from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentCredentialFor } from '../../../server/test/support/agent-credential.ts';
import { callApi } from '../../../server/test/support/api.ts';
import { startTestServer, type TestServer } from '../../../server/test/support/server.ts';
import { makeTempDir } from '../../../server/test/support/temp-dir.ts';
import { type RunningAgent, startAgent } from '../runtime/agent.ts';
import { resolveAgentConfig } from '../runtime/config.ts';
import { MESH_ECHO_PATH } from './probe-types.ts';

interface Pair {
  from: string;
  to: string;
  count: number;
  loss: number;
  p50: number | null;
}
interface View {
  nodes: { instance: string; address: string; state: string }[];
  pairs: Pair[];
  partitions: string[][];
}

const names = ['mesh-a', 'mesh-b', 'mesh-c'];

/** GET of the echo path on a node's mesh port, with the client certificate given (or none). */
function echo(address: string, ca: string, client?: { cert: string; key: string }): Promise<number> {
  const [host, port] = [
    address.slice(0, address.lastIndexOf(':')),
    Number(address.slice(address.lastIndexOf(':') + 1)),
  ];
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host,
        port,
        path: MESH_ECHO_PATH,
        ca,
        ...(client ?? {}),
        // Mesh certificates name instances, not hosts: the chain is what this test relies on.
        checkServerIdentity: () => undefined,
        agent: false,
        timeout: 5000,
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

describe('the agent as a mesh node', () => {
  let server: TestServer;
  const agents: RunningAgent[] = [];
  const dir = makeTempDir('flotilla-mesh-fleet-');

  const ok = async (method: string, path: string, body?: unknown, status = 200, token?: string) => {
    const res = await callApi(server.url, method, path, { body, ...(token ? { token } : {}) });
    expect(res.status, JSON.stringify(res.body)).toBe(status);
    return res.body;
  };
  const view = (): Promise<View> => ok('GET', '/api/v1/mesh?environment=production&window=15m');
  const until = async <T>(what: string, read: () => Promise<T>, done: (v: T) => boolean, ms: number) => {
    const deadline = Date.now() + ms;
    let last: T | undefined;
    while (Date.now() < deadline) {
      last = await read();
      if (done(last)) return last;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`${what}: not in time; last: ${JSON.stringify(last)}`);
  };

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    await ok('POST', '/api/v1/environments', { name: 'production' }, 201);
    await ok('POST', '/api/v1/environments', { name: 'staging' }, 201);
    await ok('PUT', '/api/v1/mesh/environments/production', { enabled: true });
    const minted = await ok('POST', '/api/v1/tokens', { kind: 'agent', name: 'hosts', environment: 'production' }, 201);
    for (const name of names) {
      const config = resolveAgentConfig(
        {
          server: server.url,
          token: minted.token,
          dir: join(dir, name),
          instanceId: name,
          wait: '5',
          meshListen: '127.0.0.1:0',
        },
        {},
      );
      agents.push(await startAgent(config, { mesh: { pollMs: 300, flushMs: 1000, closeGraceMs: 1000 } }));
    }
  }, 60_000);

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await server?.stop();
  });

  it('measures every pair over mutual TLS and the server shows them with p50 and no loss', async () => {
    const nodes = await until('three nodes', view, (v) => v.nodes.length === 3, 20_000);
    expect(nodes.nodes.map((n) => n.instance)).toEqual(names);
    // Summaries are per minute: the first ones reach the server once a minute has closed.
    const full = await until(
      'six pairs',
      view,
      (v) => v.pairs.length === 6 && v.pairs.every((p) => p.count >= 5),
      140_000,
    );
    for (const pair of full.pairs) {
      expect(names).toContain(pair.from);
      expect(names).toContain(pair.to);
      expect(pair.loss, JSON.stringify(pair)).toBe(0);
      expect(pair.p50).toBeGreaterThan(0);
      expect(pair.p50).toBeLessThan(0.1);
    }
    expect(full.partitions).toEqual([names]);
  }, 180_000);

  it('refuses a node of another environment, and a client without a certificate', async () => {
    const { nodes } = await view();
    const target = nodes[0]?.address as string;
    await ok('PUT', '/api/v1/mesh/environments/staging', { enabled: true });
    const staging = await ok('POST', '/api/v1/tokens', { kind: 'agent', name: 'st', environment: 'staging' }, 201);
    const credential = await agentCredentialFor(server.url, staging.token, 'stranger');
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const signed = await ok(
      'POST',
      '/api/v1/agent/mesh/certificate',
      { publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(), address: '127.0.0.1:9' },
      200,
      credential,
    );
    const stranger = { cert: signed.certificate, key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
    // Signed by the same mesh CA, so the handshake passes; the environment check refuses it.
    expect(await echo(target, signed.caCertificate, stranger)).toBe(403);
    await expect(echo(target, signed.caCertificate)).rejects.toThrow();
  }, 30_000);

  it('stops the nodes when the mesh is switched off', async () => {
    const { nodes } = await view();
    const refused = (address: string) =>
      echo(address, 'unused').then(String, (e: NodeJS.ErrnoException) => e.code ?? e.message);
    for (const node of nodes) expect(await refused(node.address)).not.toBe('ECONNREFUSED');
    await ok('PUT', '/api/v1/mesh/environments/production', { enabled: false });
    for (const node of nodes) {
      await until(
        `${node.instance} closes its mesh port`,
        () => refused(node.address),
        (answer) => answer === 'ECONNREFUSED',
        10_000,
      );
    }
  }, 30_000);
});
