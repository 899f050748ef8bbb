// `flotilla mesh` with mutual TLS and shared tokens: swan from files and flags, goose from base64
// values in MESH_* variables. They mesh; a client without a certificate, with a stranger's, or with
// no token is refused on the mesh port; the API wants a token.
import https from 'node:https';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { makeTestPki, type TestPki } from '../../agent/src/mesh/tls.test.helper.ts';
import { freeListenPort, spawnMesh, stopAll } from './mesh-command.test.helper.ts';

let pki: TestPki;
beforeAll(() => {
  pki = makeTestPki();
});
afterEach(stopAll);
afterAll(() => pki.cleanup());

function request(
  url: string,
  options: https.RequestOptions & { body?: string },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { ca: pki.ca, ...options }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('flotilla mesh with mutual TLS and tokens', () => {
  it('meshes two nodes and refuses clients without a certificate of the CA or without a token', async () => {
    const [swanMesh, swanApi, gooseMesh, gooseApi] = [
      await freeListenPort(),
      await freeListenPort(),
      await freeListenPort(),
      await freeListenPort(),
    ];
    const swanCert = pki.node('swan');
    const gooseCert = pki.node('goose');
    const b64 = (buf: Buffer) => buf.toString('base64');
    const swan = spawnMesh([
      '--name',
      'swan',
      '--target',
      `localhost:${gooseMesh}`,
      '--join-address',
      `localhost:${swanMesh}`,
      '--listen-address',
      '127.0.0.1',
      '--listen-port',
      String(swanMesh),
      '--api-port',
      String(swanApi),
      '--server-cert-path',
      swanCert.certPath,
      '--server-key-path',
      swanCert.keyPath,
      '--ca-cert-path',
      pki.caPath,
      '--token',
      'mesh-token-1',
      '--token',
      'mesh-token-2',
    ]);
    const goose = spawnMesh([], {
      MESH_NAME: 'goose',
      MESH_TARGET: `localhost:${swanMesh}`,
      MESH_JOIN_ADDRESS: `localhost:${gooseMesh}`,
      MESH_LISTEN_ADDRESS: '127.0.0.1',
      MESH_LISTEN_PORT: String(gooseMesh),
      MESH_API_PORT: String(gooseApi),
      MESH_SERVER_CERT: b64(gooseCert.cert),
      MESH_SERVER_KEY: b64(gooseCert.key),
      MESH_CA_CERT: b64(pki.ca),
      MESH_TOKEN: 'mesh-token-2,mesh-token-1',
      MESH_DEBUG: 'false',
    });
    const auth = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
    await vi.waitFor(
      async () => {
        const a = await request(`https://localhost:${swanApi}/api/v1/nodes`, auth('mesh-token-1'));
        expect(JSON.parse(a.body)).toEqual({ nodes: ['swan', 'goose'] });
        const b = await request(`https://localhost:${gooseApi}/api/v1/nodes`, auth('mesh-token-1'));
        expect(JSON.parse(b.body)).toEqual({ nodes: ['goose', 'swan'] });
      },
      { timeout: 30_000, interval: 250 },
    );
    expect(swan.stderr()).toContain('(TLS, mutual)');
    expect(swan.stderr()).not.toContain('the mesh port is open');
    expect(swan.stdout()).not.toContain('api token');
    expect(goose.stderr()).not.toMatch(/ DEBUG /);

    // The API: a token of the list, nothing else.
    expect((await request(`https://localhost:${swanApi}/metrics`, {})).status).toBe(401);
    expect((await request(`https://localhost:${swanApi}/metrics`, auth('mesh-token-3'))).status).toBe(401);
    expect((await request(`https://localhost:${swanApi}/metrics`, auth('mesh-token-2'))).body).toContain(
      'node_count 1',
    );
    // Probes pass the peer's mutual TLS and token: the TLS handshake and the request are timed.
    await vi.waitFor(
      async () => {
        const text = (await request(`https://localhost:${swanApi}/metrics`, auth('mesh-token-1'))).body;
        expect(text).toMatch(/rtt_count\{type="tls",to="goose"\} [1-9]/);
        expect(text).toMatch(/rtt_count\{type="request",to="goose"\} [1-9]/);
      },
      { timeout: 20_000, interval: 250 },
    );

    // The mesh port: a certificate of the CA is required, and a token besides.
    const messages = `https://localhost:${swanMesh}/mesh/v1/messages`;
    const nack = JSON.stringify({ kind: 'nack', seq: 1, from: 'owl', target: 'swan' });
    const refused = /certificate|alert|socket hang up|ECONNRESET/i;
    await expect(request(messages, { method: 'POST', body: nack, ...auth('mesh-token-1') })).rejects.toThrow(refused);
    const crow = pki.stranger('crow');
    await expect(
      request(messages, { method: 'POST', body: nack, cert: crow.cert, key: crow.key, ...auth('mesh-token-1') }),
    ).rejects.toThrow(refused);
    const owl = pki.node('owl');
    expect((await request(messages, { method: 'POST', body: nack, cert: owl.cert, key: owl.key })).status).toBe(401);
    expect(
      (await request(messages, { method: 'POST', body: nack, cert: owl.cert, key: owl.key, ...auth('mesh-token-2') }))
        .status,
    ).toBe(202);

    expect(await goose.stop()).toBe(0);
    await vi.waitFor(() => expect(swan.stderr()).toContain(`goose (localhost:${gooseMesh}) left`), { timeout: 10_000 });
    expect(await swan.stop()).toBe(0);
  }, 90_000);

  it('with a certificate and no CA (server TLS), dials and probes peers trusted by the system roots', async () => {
    const [aMesh, aApi, bMesh, bApi] = [
      await freeListenPort(),
      await freeListenPort(),
      await freeListenPort(),
      await freeListenPort(),
    ];
    // NODE_EXTRA_CA_CERTS adds the test CA to the roots Node trusts, as an installed CA would be.
    const env = { NODE_EXTRA_CA_CERTS: pki.caPath };
    const node = (name: string, mesh: number, api: number, target: number) => {
      const cert = pki.node(name);
      return spawnMesh(
        [
          '--name',
          name,
          '--target',
          `localhost:${target}`,
          '--join-address',
          `localhost:${mesh}`,
          '--listen-address',
          '127.0.0.1',
          '--listen-port',
          String(mesh),
          '--api-port',
          String(api),
          '--server-cert-path',
          cert.certPath,
          '--server-key-path',
          cert.keyPath,
          '--token',
          'server-mode-token',
        ],
        env,
      );
    };
    const a = node('heron', aMesh, aApi, bMesh);
    node('crane', bMesh, bApi, aMesh);
    const auth = { headers: { authorization: 'Bearer server-mode-token' } };
    await vi.waitFor(
      async () => {
        const text = (await request(`https://localhost:${aApi}/metrics`, auth)).body;
        expect(text).toContain('node_count 1');
        expect(text).toMatch(/rtt_count\{type="tls",to="crane"\} [1-9]/);
      },
      { timeout: 30_000, interval: 250 },
    );
    expect(a.stderr()).toContain('(TLS, server)');
    // Server TLS asks no client certificate: a client with the token and no certificate is let in.
    const nack = JSON.stringify({ kind: 'nack', seq: 1, from: 'owl', target: 'heron' });
    expect(
      (await request(`https://localhost:${aMesh}/mesh/v1/messages`, { method: 'POST', body: nack, ...auth })).status,
    ).toBe(202);
  }, 60_000);

  it('stops at start with a clear message on bad TLS flags or a busy port', async () => {
    const port = await freeListenPort();
    const bad = spawnMesh([
      '--name',
      'swan',
      '--listen-address',
      '127.0.0.1',
      '--listen-port',
      String(port),
      '--server-cert',
      'bm90IGEgcGVt',
      '--server-key',
      'eA==',
    ]);
    expect(await bad.exited).toBe(2);
    expect(bad.stderr()).toContain('flotilla: --server-cert: not base64 of a PEM file');
    const badTarget = spawnMesh(['--name', 'swan', '--target', 'goose', '--listen-address', '127.0.0.1']);
    expect(await badTarget.exited).toBe(2);
    expect(badTarget.stderr()).toContain('flotilla: --target: "goose" is not host:port');
    const badPort = spawnMesh(['--name', 'swan', '--listen-port', '80a'], { MESH_API_PORT: '1' });
    expect(await badPort.exited).toBe(2);
    expect(badPort.stderr()).toContain('flotilla: --listen-port: "80a" is not a port');
    const noName = spawnMesh(['--listen-port', String(port)]);
    expect(await noName.exited).toBe(2);
    expect(noName.stderr()).toContain('--name: missing');
    const first = spawnMesh([
      '--name',
      'a',
      '--listen-address',
      '127.0.0.1',
      '--listen-port',
      String(port),
      '--api-port',
      String(await freeListenPort()),
    ]);
    await first.token();
    await vi.waitFor(() => expect(first.stderr()).toContain('mesh port'), { timeout: 20_000 });
    const second = spawnMesh([
      '--name',
      'b',
      '--listen-address',
      '127.0.0.1',
      '--listen-port',
      String(port),
      '--api-port',
      String(await freeListenPort()),
    ]);
    expect(await second.exited).toBe(2);
    expect(second.stderr()).toContain(`flotilla: cannot listen on 127.0.0.1: listen EADDRINUSE`);
    expect(await first.stop()).toBe(0);
  }, 60_000);
});
