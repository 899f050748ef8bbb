// The mesh on the server: switched on per environment, certificates for enrolled agents only, peers,
// summaries under caps and bound to the sender's instance, and the environment's view with partitions.
import { generateKeyPairSync } from 'node:crypto';
import { checkMeshPeer } from '@flotilla/protocol/mesh-peer';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { agentCredentialFor } from '../../test/support/agent-credential.ts';
import { type ApiCallOptions, callApi } from '../../test/support/api.ts';
import { allStoreKinds, describeEachStore } from '../../test/support/databases.ts';
import { startTestServer, type TestServer } from '../../test/support/server.ts';
import { TokenStore } from '../auth/tokens.ts';
import { type Database, openDatabase } from '../db/connection.ts';

const publicKey = () =>
  generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'pem', type: 'spki' }).toString();
const minuteNow = () => Math.floor(Date.now() / 60_000) * 60_000;
const ok = (from: string, to: string, p50: number, minute = minuteNow(), phase = 'request') => ({
  from,
  to,
  phase,
  minute,
  count: 60,
  failed: 0,
  min: p50 / 2,
  p50,
  p99: p50 * 2,
  max: p50 * 3,
  jitter: p50 / 10,
});
const down = (from: string, to: string, minute = minuteNow()) => ({
  from,
  to,
  phase: 'request',
  minute,
  count: 60,
  failed: 60,
});

describeEachStore(allStoreKinds)('the mesh API on %s', (kind) => {
  let server: TestServer;
  let store: Database;
  let viewer: string;
  const agentTokens = new Map<string, string>();
  const call = (method: string, path: string, opts: ApiCallOptions = {}) => callApi(server.url, method, path, opts);
  const credential = async (env: string, instance: string) => {
    let token = agentTokens.get(env);
    if (!token) {
      const minted = await call('POST', '/api/v1/tokens', {
        body: { kind: 'agent', name: `agents-${env}`, environment: env },
      });
      expect(minted.status).toBe(201);
      token = minted.body.token as string;
      agentTokens.set(env, token);
    }
    return agentCredentialFor(server.url, token, instance);
  };
  const join = async (env: string, instance: string, port = 7946) => {
    const res = await call('POST', '/api/v1/agent/mesh/certificate', {
      token: await credential(env, instance),
      body: { publicKey: publicKey(), address: `10.0.0.${port % 250}:${port}` },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body;
  };
  const report = async (env: string, instance: string, summaries: unknown[], extra: Record<string, unknown> = {}) =>
    call('POST', '/api/v1/agent/mesh/summaries', {
      token: await credential(env, instance),
      body: { summaries, ...extra },
    });
  const enable = (env: string, body: unknown = { enabled: true }, token?: string) =>
    call('PUT', `/api/v1/mesh/environments/${env}`, { body, token });

  beforeAll(async () => {
    server = await startTestServer(kind);
    store = openDatabase(server.database);
    viewer = (await new TokenStore(store.db).create('viewer', 'viewer')).token;
    for (const name of ['production', 'staging', 'lab', 'split']) {
      expect((await call('POST', '/api/v1/environments', { body: { name } })).status).toBe(201);
    }
  });
  afterAll(async () => {
    await store?.close();
    await server?.stop();
  });

  it('is off until an admin switches it on, and audits the change', async () => {
    expect((await call('GET', '/api/v1/mesh/environments/production', { token: viewer })).body).toMatchObject({
      enabled: false,
      maxPeersPerRound: null,
    });
    expect((await enable('production', { enabled: true }, viewer)).status).toBe(403);
    expect((await enable('nowhere')).status).toBe(404);
    expect((await enable('production', { enabled: 'yes' })).status).toBe(400);
    const res = await enable('production', { enabled: true, maxPeersPerRound: 20 });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ environment: 'production', enabled: true, maxPeersPerRound: 20 });
    const list = await call('GET', '/api/v1/mesh/environments', { token: viewer });
    expect(list.body.environments.find((e: { environment: string }) => e.environment === 'staging').enabled).toBe(
      false,
    );
    const audit = await store.db
      .selectFrom('audit_log')
      .select(['target', 'after_json'])
      .where('action', '=', 'mesh.configure')
      .execute();
    expect(audit).toEqual([
      { target: 'env:production', after_json: JSON.stringify({ enabled: true, maxPeersPerRound: 20 }) },
    ]);
  });

  it('gives agents of an environment with the mesh off nothing', async () => {
    const token = await credential('staging', 'st-1');
    const cert = await call('POST', '/api/v1/agent/mesh/certificate', {
      token,
      body: { publicKey: publicKey(), address: '10.1.0.1:7946' },
    });
    expect(cert.status).toBe(403);
    expect(cert.body.error.message).toMatch(/mesh is off in environment "staging"/);
    const peers = await call('GET', '/api/v1/agent/mesh/peers', { token });
    expect(peers.body).toEqual({ enabled: false, maxPeersPerRound: null, peers: [], truncated: false });
    expect((await report('staging', 'st-1', [ok('st-1', 'st-2', 0.001)])).status).toBe(403);
  });

  it('admits only instance credentials on agent routes and viewers on the view', async () => {
    const body = { publicKey: publicKey(), address: '10.0.0.9:7946' };
    expect((await call('POST', '/api/v1/agent/mesh/certificate', { token: null, body })).status).toBe(401);
    expect((await call('POST', '/api/v1/agent/mesh/certificate', { token: viewer, body })).status).toBe(403);
    expect((await call('POST', '/api/v1/agent/mesh/certificate', { body })).status).toBe(403); // admin
    await credential('production', 'p-0');
    const bare = await call('POST', '/api/v1/agent/mesh/certificate', { token: agentTokens.get('production'), body });
    expect(bare.status).toBe(403);
    expect(bare.body.error.message).toMatch(/enrol first/);
    expect((await call('GET', '/api/v1/mesh?environment=production', { token: null })).status).toBe(401);
    const asAgent = await call('GET', '/api/v1/mesh?environment=production', {
      token: await credential('production', 'p-0'),
    });
    expect(asAgent.status).toBe(403);
  });

  it('signs an agent key for its own instance and environment, and lists its peers', async () => {
    const a = await join('production', 'p-a', 7001);
    expect(a.uri).toBe('flotilla://production/p-a');
    expect(a.maxPeersPerRound).toBe(20);
    expect(new Date(a.renewAfter).getTime()).toBeLessThan(new Date(a.expiresAt).getTime());
    expect(checkMeshPeer(a.certificate, { ca: a.caCertificate, environment: 'production' }).instance).toBe('p-a');
    expect(() => checkMeshPeer(a.certificate, { ca: a.caCertificate, environment: 'staging' })).toThrow(
      /not "staging"/,
    );
    const b = await join('production', 'p-b', 7002);
    expect(b.caCertificate).toBe(a.caCertificate);

    const badKey = await call('POST', '/api/v1/agent/mesh/certificate', {
      token: await credential('production', 'p-a'),
      body: { publicKey: 'not a key', address: '10.0.0.1:7001' },
    });
    expect(badKey.status).toBe(400);
    expect(badKey.body.error.message).toMatch(/^publicKey: /);
    const badAddress = await call('POST', '/api/v1/agent/mesh/certificate', {
      token: await credential('production', 'p-a'),
      body: { publicKey: publicKey(), address: 'no port' },
    });
    expect(badAddress.status).toBe(400);
    expect(badAddress.body.error.message).toMatch(/^address: /);

    const peers = await call('GET', '/api/v1/agent/mesh/peers', { token: await credential('production', 'p-a') });
    expect(peers.status).toBe(200);
    expect(peers.body).toMatchObject({ enabled: true, maxPeersPerRound: 20, truncated: false });
    expect(peers.body.peers).toEqual([{ instance: 'p-b', address: '10.0.0.2:7002', state: 'alive' }]);

    // A revoked instance leaves its peers' lists at once.
    await join('production', 'p-gone', 7009);
    const listed = async () =>
      (await call('GET', '/api/v1/agent/mesh/peers', { token: await credential('production', 'p-a') })).body.peers.map(
        (p: { instance: string }) => p.instance,
      );
    expect((await listed()).sort()).toEqual(['p-b', 'p-gone']);
    expect((await call('DELETE', '/api/v1/instances/p-gone/identity')).status).toBe(200);
    expect(await listed()).toEqual(['p-b']);
  });

  it('stores summaries only from the sender itself, under caps that name the field', async () => {
    await join('production', 'p-c', 7003);
    const wrong = await report('production', 'p-c', [ok('p-a', 'p-b', 0.001)]);
    expect(wrong.status).toBe(403);
    expect(wrong.body.error.message).toMatch(/summaries\[0\]\.from: "p-a" is not this instance \("p-c"\)/);

    const notJoined = await report('production', 'p-0', [ok('p-0', 'p-a', 0.001)]);
    expect(notJoined.status).toBe(403);
    expect(notJoined.body.error.message).toMatch(/certificate first/);

    const tooMany = await report(
      'production',
      'p-c',
      Array.from({ length: 5001 }, () => ok('p-c', 'p-a', 0.001)),
    );
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error.message).toMatch(/^summaries: must not have more than 5000 items/);
    const badPhase = await report('production', 'p-c', [{ ...ok('p-c', 'p-a', 0.001), phase: 'udp' }]);
    expect(badPhase.status).toBe(400);
    expect(badPhase.body.error.message).toMatch(/summaries\[0\]\.phase/);
    const badMinute = await report('production', 'p-c', [{ ...ok('p-c', 'p-a', 0.001), minute: 1234 }]);
    expect(badMinute.body.error.message).toMatch(/summaries\[0\]\.minute/);
    const future = await report('production', 'p-c', [ok('p-c', 'p-a', 0.001, minuteNow() + 3_600_000)]);
    expect(future.status).toBe(400);
    expect(future.body.error.message).toMatch(/summaries\[0\]\.minute: .* is in the future/);
    const noP50 = await report('production', 'p-c', [{ ...down('p-c', 'p-a'), failed: 1 }]);
    expect(noP50.body.error.message).toMatch(/summaries\[0\]\.p50: required/);
    const huge = await report('production', 'p-c', [ok('p-c', 'p-a', 0.001)], {
      padding: 'x'.repeat(2.5 * 1024 * 1024),
    });
    expect(huge.status).toBe(413);
    expect(await store.db.selectFrom('mesh_summaries').selectAll().where('from_node', '=', 'p-c').execute()).toEqual(
      [],
    );

    const old = minuteNow() - 8 * 24 * 3600_000;
    const stored = await report(
      'production',
      'p-c',
      [
        ok('p-c', 'p-a', 0.002),
        { ...ok('p-c', 'p-b', 0.003), failed: 6 },
        ok('p-c', 'p-b', 0.009, old),
        ok('p-c', 'nobody', 0.001),
      ],
      {
        eventLoopLag: { p50: 0.0005, p99: 0.004, max: 0.02 },
      },
    );
    expect(stored.status, JSON.stringify(stored.body)).toBe(200);
    expect(stored.body).toEqual({ stored: 2, skipped: 2 });
    // The same minute sent again replaces what was stored.
    expect((await report('production', 'p-c', [ok('p-c', 'p-a', 0.004)])).body).toEqual({ stored: 1, skipped: 0 });
    const rows = await store.db
      .selectFrom('mesh_summaries')
      .select(['to_node', 'p50'])
      .where('from_node', '=', 'p-c')
      .orderBy('to_node')
      .execute();
    expect(rows).toEqual([
      { to_node: 'p-a', p50: 0.004 },
      { to_node: 'p-b', p50: 0.003 },
    ]);

    const view = await call('GET', '/api/v1/mesh?environment=production', { token: viewer });
    expect(view.status, JSON.stringify(view.body)).toBe(200);
    const c = view.body.nodes.find((n: { instance: string }) => n.instance === 'p-c');
    expect(c).toMatchObject({ state: 'alive', eventLoopLag: { p50: 0.0005, p99: 0.004, max: 0.02 } });
    expect(view.body.pairs.map((p: { to: string; p50: number; loss: number }) => [p.to, p.p50, p.loss])).toEqual([
      ['p-a', 0.004, 0],
      ['p-b', 0.003, 0.1],
    ]);

    const series = await call('GET', '/api/v1/mesh/pairs?environment=production&from=p-c&to=p-a', { token: viewer });
    expect(series.status).toBe(200);
    expect(series.body.points).toEqual([
      expect.objectContaining({
        phase: 'request',
        count: 60,
        failed: 0,
        p50: 0.004,
        minute: new Date(minuteNow()).toISOString(),
      }),
    ]);
    const badWindow = await call('GET', '/api/v1/mesh/pairs?environment=production&from=p-c&to=p-a&window=30d', {
      token: viewer,
    });
    expect(badWindow.status).toBe(400);
    expect(badWindow.body.error.message).toMatch(/^window: /);
  });

  it('finds partitions and the node most peers cannot reach', async () => {
    expect((await enable('split')).status).toBe(200);
    const names = ['s-a', 's-b', 's-c', 's-d'];
    for (const [i, n] of names.entries()) await join('split', n, 7100 + i);
    // {a, b} and {c, d} reach each other inside, never across.
    const side = (n: string) => (n === 's-a' || n === 's-b' ? 0 : 1);
    for (const from of names) {
      const summaries = names
        .filter((to) => to !== from)
        .map((to) => (side(to) === side(from) ? ok(from, to, 0.001) : down(from, to)));
      expect((await report('split', from, summaries)).status).toBe(200);
    }
    let view = (await call('GET', '/api/v1/mesh?environment=split', { token: viewer })).body;
    expect(view.partitions).toEqual([
      ['s-a', 's-b'],
      ['s-c', 's-d'],
    ]);
    expect(view.nodes.map((n: { partition: number }) => n.partition)).toEqual([0, 0, 1, 1]);

    // The lab: every node reaches every other, except that nobody reaches l-e (its own probes work).
    expect((await enable('lab')).status).toBe(200);
    const lab = ['l-a', 'l-b', 'l-c', 'l-d', 'l-e'];
    for (const [i, n] of lab.entries()) await join('lab', n, 7200 + i);
    for (const from of lab) {
      const summaries = lab
        .filter((to) => to !== from)
        .map((to) => (to === 'l-e' ? down(from, to) : ok(from, to, 0.001)));
      expect((await report('lab', from, summaries)).status).toBe(200);
    }
    view = (await call('GET', '/api/v1/mesh?environment=lab', { token: viewer })).body;
    expect(view.partitions).toEqual([lab]);
    expect(view.flagged).toEqual(['l-e']);
    expect(view.nodes.find((n: { instance: string }) => n.instance === 'l-e').flagged).toBe(
      'unreachable from 4 of 4 peers',
    );
    expect(view.pairs.filter((p: { loss: number }) => p.loss === 1)).toHaveLength(4);
  });

  it('documents the routes in the OpenAPI document with viewer and agent credentials', async () => {
    const doc = (await call('GET', '/api/openapi.json', { token: null })).body;
    for (const path of [
      '/api/v1/mesh',
      '/api/v1/mesh/pairs',
      '/api/v1/agent/mesh/summaries',
      '/api/v1/agent/mesh/certificate',
    ])
      expect(doc.paths[path], path).toBeDefined();
    expect(doc.paths['/api/v1/mesh'].get.security).toEqual([{ bearer: [] }]);
  });
});
