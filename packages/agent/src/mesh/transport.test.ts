import { createServer } from 'node:http';
import https from 'node:https';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { MeshMessage } from './contracts.ts';
import { makeTestPki, type TestPki } from './tls.test.helper.ts';
import { loadMeshTls } from './tls.ts';
import {
  type DropReason,
  IDLE_CONNECTION_MS,
  MAX_MESSAGE_BYTES,
  MESSAGES_PATH,
  type MeshTransport,
  startTransport,
} from './transport.ts';
import { parseMeshMessage } from './transport-validate.ts';

const ping: MeshMessage = {
  kind: 'ping',
  seq: 7,
  from: 'eagle',
  updates: [{ name: 'eagle', address: '127.0.0.1:1', incarnation: 0, state: 'alive' }],
  extras: {
    coordinate: { vec: [0.001, 0], height: 0.0001, error: 1 },
    deltas: [
      {
        origin: 'eagle',
        seq: 3,
        summaries: [
          { from: 'eagle', to: 'duck', phase: 'request', minute: 1_700_000_040_000, count: 5, failed: 0, p50: 0.0002 },
        ],
      },
    ],
  },
};

let open: MeshTransport[] = [];
afterEach(async () => {
  await Promise.all(open.map((t) => t.close()));
  open = [];
});

async function transport(options: Partial<Parameters<typeof startTransport>[0]> = {}) {
  const received: MeshMessage[] = [];
  const drops: DropReason[] = [];
  const t = await startTransport({
    listenAddress: '127.0.0.1',
    listenPort: 0,
    tokens: [],
    onMessage: (m) => received.push(m),
    onDrop: (reason) => drops.push(reason),
    ...options,
  });
  open.push(t);
  return { t, received, drops, url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${t.port}${MESSAGES_PATH}` };
}

describe('parseMeshMessage', () => {
  it('keeps a valid message as it is and drops unknown fields', () => {
    expect(parseMeshMessage(JSON.parse(JSON.stringify(ping)))).toEqual(ping);
    expect(parseMeshMessage({ kind: 'nack', seq: 1, from: 'a', target: 'b', evil: true })).toEqual({
      kind: 'nack',
      seq: 1,
      from: 'a',
      target: 'b',
    });
  });

  it('names the field that is wrong', () => {
    expect(() => parseMeshMessage({ kind: 'gossip' })).toThrow(/kind: must be/);
    expect(() => parseMeshMessage({ ...ping, seq: -1 })).toThrow(/seq: must be a non-negative integer/);
    expect(() =>
      parseMeshMessage({ ...ping, updates: [{ name: 'x', address: 'y', incarnation: 0, state: 'zombie' }] }),
    ).toThrow(/updates\[0\]\.state/);
    expect(() =>
      parseMeshMessage({ kind: 'join', from: { name: '', address: 'a:1', incarnation: 0, state: 'alive' } }),
    ).toThrow(/from\.name/);
    expect(() => parseMeshMessage([])).toThrow(/message: must be an object/);
  });
});

describe('the mesh transport', () => {
  it('delivers a message from one node to another', async () => {
    const a = await transport();
    const b = await transport();
    a.t.send(`127.0.0.1:${b.t.port}`, ping);
    await vi.waitFor(() => expect(b.received).toEqual([ping]), { timeout: 5000 });
    expect(a.drops).toEqual([]);
  });

  it('closes a connection left idle, and a later message goes out on a new one', async () => {
    const a = await transport();
    const opened: number[] = [];
    const closed: number[] = [];
    const peer = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(202).end());
    });
    peer.keepAliveTimeout = 60_000;
    peer.on('connection', (socket) => {
      opened.push(Date.now());
      socket.on('close', () => closed.push(Date.now()));
    });
    await new Promise<void>((resolve) => peer.listen(0, '127.0.0.1', resolve));
    try {
      const address = `127.0.0.1:${(peer.address() as { port: number }).port}`;
      a.t.send(address, ping);
      await vi.waitFor(() => expect(closed).toHaveLength(1), { timeout: IDLE_CONNECTION_MS + 3000, interval: 100 });
      expect((closed[0] as number) - (opened[0] as number)).toBeGreaterThanOrEqual(IDLE_CONNECTION_MS - 100);
      a.t.send(address, ping);
      await vi.waitFor(() => expect(opened).toHaveLength(2), { timeout: 3000 });
      expect(a.drops).toEqual([]);
    } finally {
      peer.closeAllConnections();
      await new Promise((resolve) => peer.close(resolve));
    }
  });

  it('reports an unreachable peer once, not once per send, and counts the failed sends', async () => {
    const changes: unknown[][] = [];
    const a = await transport({ onReachability: (...args) => changes.push(args) });
    const b = await transport();
    const gone = `127.0.0.1:${b.t.port}`;
    await b.t.close();
    open = open.filter((t) => t !== b.t);
    for (let i = 0; i < 3; i++) a.t.send(gone, ping);
    await vi.waitFor(() => expect(a.drops).toEqual(['send_failed', 'send_failed', 'send_failed']), { timeout: 5000 });
    expect(changes).toEqual([[gone, false, 'ECONNREFUSED']]);
  });

  it('answers 400 to a malformed message, 413 to an oversized one, and counts both', async () => {
    const b = await transport();
    const post = (body: string) =>
      fetch(b.url, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    const bad = await post('{"kind":"ping"');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('invalid');
    expect((await post('{"kind":"ping","seq":1}')).status).toBe(400);
    expect((await post('x'.repeat(MAX_MESSAGE_BYTES + 1))).status).toBe(413);
    expect(b.drops).toEqual(['malformed', 'malformed', 'too_large']);
    expect(b.received).toEqual([]);
  });

  it('with tokens, refuses a request without one or with a wrong one, and sends its own', async () => {
    const b = await transport({ tokens: ['mesh-secret'] });
    const post = (authorization?: string) =>
      fetch(b.url, { method: 'POST', body: JSON.stringify(ping), headers: authorization ? { authorization } : {} });
    expect((await post()).status).toBe(401);
    expect((await post('Bearer wrong')).status).toBe(401);
    expect((await post('Bearer mesh-secret')).status).toBe(202);
    const a = await transport({ tokens: ['mesh-secret'] });
    a.t.send(`127.0.0.1:${b.t.port}`, ping);
    await vi.waitFor(() => expect(b.received).toHaveLength(2), { timeout: 5000 });
    expect(b.drops).toEqual(['unauthorized', 'unauthorized']);
  });

  describe('with mutual TLS', () => {
    let pki: TestPki;
    beforeAll(() => {
      pki = makeTestPki();
    });
    afterAll(() => pki.cleanup());

    const mtls = (name: string) => {
      const cert = pki.node(name);
      return loadMeshTls({ serverCertPath: cert.certPath, serverKeyPath: cert.keyPath, caCertPaths: [pki.caPath] });
    };
    const postWith = (url: string, options: https.RequestOptions) =>
      new Promise<number>((resolve, reject) => {
        const req = https.request(url, { method: 'POST', ...options }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end(JSON.stringify(ping));
      });

    it('delivers between nodes of the same CA', async () => {
      const a = await transport({ tls: mtls('eagle') });
      const b = await transport({ tls: mtls('duck') });
      a.t.send(`127.0.0.1:${b.t.port}`, ping);
      await vi.waitFor(() => expect(b.received).toEqual([ping]), { timeout: 5000 });
    });

    it('refuses a client without a certificate, or with one from another CA', async () => {
      const b = await transport({ tls: mtls('duck') });
      await expect(postWith(b.url, { ca: pki.ca })).rejects.toThrow(/certificate|alert|socket hang up|ECONNRESET/i);
      const stranger = pki.stranger('crow');
      await expect(postWith(b.url, { ca: pki.ca, cert: stranger.cert, key: stranger.key })).rejects.toThrow(
        /certificate|alert|socket hang up|ECONNRESET/i,
      );
      const member = pki.node('owl');
      expect(await postWith(b.url, { ca: pki.ca, cert: member.cert, key: member.key })).toBe(202);
      expect(b.received).toHaveLength(1);
    });
  });
});
