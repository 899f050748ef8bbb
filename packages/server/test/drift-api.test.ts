import { afterAll, beforeAll, expect, it } from 'vitest';
import { opvicAgentPayload } from '../../protocol/test/fixtures/opvic-agent-payload.ts';
import { TokenStore } from '../src/auth/tokens.ts';
import { type Database, openDatabase } from '../src/db/connection.ts';
import { createDriftService } from '../src/drift/service.ts';
import { agentCredentialFor } from './support/agent-credential.ts';
import { apiOf } from './support/api.ts';
import { allStoreKinds, describeEachStore } from './support/databases.ts';
import { startTestServer, type TestServer } from './support/server.ts';

/** The payload an Opvic agent sends (the research's example), for `agentId` running `version`. */
const opvicPayload = (agentId = 'prod-eu-1', version = '1.7.0') => {
  const p = opvicAgentPayload();
  p.agentId = agentId;
  p.version.uniqVersions = [version];
  p.version.versions = p.version.versions.map((v) => ({
    ...v,
    runningVersion: version,
    extractedFrom: `k8s.gcr.io/coredns:${version}`,
  }));
  return p;
};

describeEachStore(allStoreKinds)('drift API on %s', (kind) => {
  let server: TestServer;
  let store: Database;
  let agentA: string;
  let agentB: string;
  let viewer: string;

  const { call, ok } = apiOf(() => server.url);
  const report = (token: string | null | undefined, body: unknown) =>
    call('POST', '/api/v1alpha1/agents', { token, body });

  beforeAll(async () => {
    server = await startTestServer(kind);
    store = openDatabase(server.database);
    viewer = (await new TokenStore(store.db).create('viewer', 'viewer')).token;
    for (const env of ['env-a', 'env-b']) await ok('POST', '/api/v1/environments', { name: env }, 201);
    const token = async (env: string) =>
      (await ok('POST', '/api/v1/tokens', { kind: 'agent', name: `agent-${env}`, environment: env }, 201)).token;
    agentA = await token('env-a');
    agentB = await token('env-b');
  });
  afterAll(async () => {
    await store?.close();
    await server?.stop();
  });

  it('answers ping with pong to a credential, and 401 without', async () => {
    const res = await call('GET', '/api/v1alpha1/ping', { token: agentA });
    expect(res.status).toBe(200);
    expect(res.bytes.toString()).toBe('pong');
    expect((await call('GET', '/api/v1alpha1/ping', { token: null })).status).toBe(401);
  });

  it("stores an Opvic agent's report in the token's environment and lists it", async () => {
    const res = await report(agentA, opvicPayload());
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body).toEqual({ message: 'data received' });
    const page = await ok('GET', '/api/v1/drift?environment=env-a&subject=coredns');
    expect(page.next).toBeNull();
    expect(page.items).toHaveLength(1);
    expect(page.items[0]).toMatchObject({
      environment: 'env-a',
      place: 'prod-eu-1',
      subject: 'coredns',
      namespace: 'opvic',
      tags: { env: 'prod' },
      versions: [
        { runningVersion: '1.7.0', resourceCount: 3, resourceKind: 'Pods', extractedFrom: 'k8s.gcr.io/coredns:1.7.0' },
      ],
      // Opvic's "" for an unset chart is dropped.
      upstream: {
        provider: 'github',
        strategy: 'releases',
        repo: 'coredns/coredns',
        extraction: { regex: { pattern: '^v(...)$', result: '$1' } },
        constraint: '~>1',
      },
      staleSince: null,
    });
    expect(page.items[0].upstream.chart).toBeUndefined();
    expect(Date.parse(page.items[0].reportedAt)).toBeGreaterThan(0);
  });

  it('is idempotent: the same report again keeps one row and its changedAt', async () => {
    const body = opvicPayload('idem-1');
    expect((await report(agentA, body)).status).toBe(202);
    const [first] = (await ok('GET', '/api/v1/drift?place=idem-1')).items;
    await new Promise((r) => setTimeout(r, 5));
    expect((await report(agentA, body)).status).toBe(202);
    const page = await ok('GET', '/api/v1/drift?place=idem-1');
    expect(page.items).toHaveLength(1);
    expect(page.items[0].changedAt).toBe(first.changedAt);
    expect(Date.parse(page.items[0].reportedAt)).toBeGreaterThanOrEqual(Date.parse(first.reportedAt));
  });

  it('refuses a bad payload with 400 naming the field, and stores nothing', async () => {
    const noId = opvicPayload('bad-1') as { version: Record<string, unknown> };
    delete noId.version.id;
    const res = await report(agentA, noId);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid');
    expect(res.body.error.message).toBe('version.id: required');
    const badAgent = await report(agentA, { ...opvicPayload(), agentId: 'not a valid id!' });
    expect(badAgent.status).toBe(400);
    expect(badAgent.body.error.message).toMatch(/^agentId: /);
    expect((await report(agentA, '{"agentId":')).status).toBe(400);
    expect((await ok('GET', '/api/v1/drift?place=bad-1')).items).toEqual([]);
  });

  it('refuses a body over the cap with 413', async () => {
    const big = opvicPayload('big-1');
    const one = { ...big.version.versions[0], extractedFrom: 'x'.repeat(1000) };
    const versions = Array.from({ length: 1000 }, () => one);
    const res = await report(agentA, { ...big, version: { ...big.version, versions } });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('payload_too_large');
    expect((await ok('GET', '/api/v1/drift?place=big-1')).items).toEqual([]);
  });

  it('refuses writes without a token (401) and from admins or viewers (403)', async () => {
    expect((await report(null, opvicPayload('who-1'))).status).toBe(401);
    expect((await report(undefined, opvicPayload('who-1'))).status).toBe(403);
    expect((await report(viewer, opvicPayload('who-1'))).status).toBe(403);
    expect((await report('flt_not_a_token', opvicPayload('who-1'))).status).toBe(401);
    expect((await ok('GET', '/api/v1/drift?place=who-1')).items).toEqual([]);
  });

  it("writes only into the token's own environment, whatever the tags say", async () => {
    const body = { ...opvicPayload('cross-1'), agentTags: { environment: 'env-b' } };
    expect((await report(agentA, body)).status).toBe(202);
    const rows = (await ok('GET', '/api/v1/drift?place=cross-1')).items;
    expect(rows.map((r: { environment: string }) => r.environment)).toEqual(['env-a']);
    expect((await ok('GET', '/api/v1/drift?place=cross-1&environment=env-b')).items).toEqual([]);
  });

  it('accepts an enrolled instance credential as the reporter', async () => {
    const credential = await agentCredentialFor(server.url, agentB, 'host-b1');
    expect((await report(credential, opvicPayload('host-b1'))).status).toBe(202);
    const rows = (await ok('GET', '/api/v1/drift?place=host-b1')).items;
    expect(rows.map((r: { environment: string }) => r.environment)).toEqual(['env-b']);
  });

  it('pages with limit and the after cursor, without gaps or repeats', async () => {
    for (let i = 0; i < 5; i++) expect((await report(agentB, opvicPayload(`page-${i}`))).status).toBe(202);
    const seen: string[] = [];
    let after: string | null = null;
    for (let n = 0; n < 10; n++) {
      const q: string = `/api/v1/drift?environment=env-b&subject=coredns&limit=2${after ? `&after=${after}` : ''}`;
      const page = await ok('GET', q);
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((r: { place: string }) => r.place));
      after = page.next;
      if (!after) break;
    }
    expect(seen).toEqual(['host-b1', 'page-0', 'page-1', 'page-2', 'page-3', 'page-4']);
    expect((await call('GET', '/api/v1/drift?limit=0')).status).toBe(400);
    expect((await call('GET', '/api/v1/drift?limit=100000')).status).toBe(400);
    const bad = await call('GET', '/api/v1/drift?after=bm90LWEtY3Vyc29y');
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/after/);
  });

  it('answers where a version of a subject runs', async () => {
    expect((await report(agentB, opvicPayload('where-new', '1.8.0'))).status).toBe(202);
    const all = await ok('GET', '/api/v1/drift/where?subject=coredns');
    expect(all.items.length).toBeGreaterThan(2);
    const newer = await ok('GET', '/api/v1/drift/where?subject=coredns&version=1.8.0');
    expect(newer.items.map((r: { place: string }) => r.place)).toEqual(['where-new']);
    expect(newer.items[0].versions).toEqual([expect.objectContaining({ runningVersion: '1.8.0' })]);
    expect((await ok('GET', '/api/v1/drift/where?subject=nothing-here')).items).toEqual([]);
    expect((await call('GET', '/api/v1/drift/where')).status).toBe(400);
  });

  it('lets viewers read and refuses readers without a token', async () => {
    expect((await call('GET', '/api/v1/drift', { token: viewer })).status).toBe(200);
    expect((await call('GET', '/api/v1/drift', { token: null })).status).toBe(401);
    expect((await call('GET', '/api/v1/drift', { token: agentA })).status).toBe(403);
  });

  it('marks silent places stale and removes long-silent ones', async () => {
    let now = Date.now() + 11 * 60_000;
    const drift = createDriftService({ db: store.db, now: () => now });
    expect((await drift.expire()).stale).toBeGreaterThan(0);
    const item = (await ok('GET', '/api/v1/drift?place=prod-eu-1')).items[0];
    expect(item.staleSince).not.toBeNull();
    now = Date.now() + 8 * 24 * 3_600_000;
    expect((await drift.expire()).removed).toBeGreaterThan(0);
    expect((await ok('GET', '/api/v1/drift')).items).toEqual([]);
  });

  it('documents the routes in the OpenAPI document', async () => {
    const doc = await call('GET', '/api/openapi.json', { token: null });
    for (const path of ['/api/v1alpha1/ping', '/api/v1alpha1/agents', '/api/v1/drift', '/api/v1/drift/where']) {
      expect(doc.body.paths[path], path).toBeDefined();
    }
  });
});
