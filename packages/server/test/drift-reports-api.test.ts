import { driftReportLimits } from '@flotilla/protocol';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { opvicAgentPayload } from '../../protocol/test/fixtures/opvic-agent-payload.ts';
import { TokenStore } from '../src/auth/tokens.ts';
import { type Database, openDatabase } from '../src/db/connection.ts';
import { agentCredentialFor } from './support/agent-credential.ts';
import { apiOf } from './support/api.ts';
import { allStoreKinds, describeEachStore } from './support/databases.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const subject = (name: string, runningVersion = '1.0.0', extra: Record<string, unknown> = {}) => ({
  subject: name,
  namespace: 'apps',
  versions: [{ runningVersion, resourceCount: 2, resourceKind: 'Pods', image: `ghcr.io/o/${name}` }],
  upstream: { provider: 'github', strategy: 'releases', repo: `o/${name}` },
  ...extra,
});

// What the resolver writes once it compared a row (the resolver itself is tested on its own).
const resolution = [
  {
    runningVersion: '1.7.0',
    behind: 'minor',
    majorsBehind: 0,
    minorsBehind: 2,
    patchesBehind: 1,
    availableMajors: [],
    availableMinors: ['1.8.0', '1.9.0'],
    availablePatches: ['1.7.1'],
    newer: [
      {
        version: '1.9.0',
        publishedAt: '2026-01-10T00:00:00Z',
        url: 'https://github.com/coredns/coredns/releases/tag/v1.9.0',
      },
      { version: '1.8.0', publishedAt: '2025-10-01T00:00:00Z' },
      { version: '1.7.1' },
    ],
    supportEndsAt: null,
  },
];

describeEachStore(allStoreKinds)('drift batch reports and read API on %s', (kind) => {
  let server: TestServer;
  let store: Database;
  let agent: string;
  let viewer: string;

  const { call, ok } = apiOf(() => server.url);
  const send = (token: string | null | undefined, body: unknown) =>
    call('POST', '/api/v1/drift/reports', { token, body });
  // Stands in for the resolver's comparison, once the server's own resolver has had its go at the row
  // (its upstreams are unreachable here), so that it cannot overwrite these values afterwards.
  const resolve = async (place: string, name: string, values: Record<string, unknown>) => {
    const row = () =>
      store.db
        .selectFrom('drift_subjects')
        .select('resolved_at')
        .where('place', '=', place)
        .where('subject', '=', name)
        .executeTakeFirstOrThrow();
    await expect.poll(async () => (await row()).resolved_at, { timeout: 15_000, interval: 20 }).not.toBeNull();
    await store.db
      .updateTable('drift_subjects')
      .set(values)
      .where('place', '=', place)
      .where('subject', '=', name)
      .execute();
  };

  beforeAll(async () => {
    server = await startTestServer(kind);
    store = openDatabase(server.database);
    viewer = (await new TokenStore(store.db).create('viewer', 'viewer')).token;
    await ok('POST', '/api/v1/environments', { name: 'prod' }, 201);
    agent = (await ok('POST', '/api/v1/tokens', { kind: 'agent', name: 'k8s', environment: 'prod' }, 201)).token;
  });
  afterAll(async () => {
    await store?.close();
    await server?.stop();
  });

  it('stores a batch report, then removes what a complete report leaves out', async () => {
    const first = await send(agent, {
      agentId: 'eu-1',
      tags: { region: 'eu' },
      subjects: [subject('a'), subject('b'), subject('c', '2.0.0', { error: 'bad regex' })],
    });
    expect(first.status, JSON.stringify(first.body)).toBe(202);
    expect(first.body).toEqual({ stored: 3, removed: 0 });
    const page = await ok('GET', '/api/v1/drift?place=eu-1');
    expect(page.items.map((i: { subject: string }) => i.subject)).toEqual(['a', 'b', 'c']);
    expect(page.items[0]).toMatchObject({
      environment: 'prod',
      tags: { region: 'eu' },
      versions: [{ runningVersion: '1.0.0', image: 'ghcr.io/o/a' }],
      error: null,
    });
    expect(page.items[2].error).toBe('bad regex');
    const complete = await send(agent, {
      agentId: 'eu-1',
      tags: { region: 'eu' },
      subjects: [subject('b')],
      complete: true,
    });
    expect(complete.body).toEqual({ stored: 1, removed: 2 });
    expect((await ok('GET', '/api/v1/drift?agent=eu-1')).items.map((i: { subject: string }) => i.subject)).toEqual([
      'b',
    ]);
  });

  it('keeps the comparison of an unchanged row and queues a changed one for the resolver', async () => {
    await send(agent, { agentId: 'rc-1', subjects: [subject('a'), subject('b')] });
    for (const name of ['a', 'b'])
      await resolve('rc-1', name, {
        behind: 'major',
        latest: '3.0.0',
        majors_behind: 2,
        resolved_at: 1,
        resolution: '[]',
      });
    await send(agent, { agentId: 'rc-1', subjects: [subject('a'), subject('b', '1.1.0')] });
    const [a, b] = (await ok('GET', '/api/v1/drift?place=rc-1')).items;
    expect(a).toMatchObject({
      resolvedAt: '1970-01-01T00:00:00.001Z',
      behind: 'major',
      latest: '3.0.0',
      majorsBehind: 2,
    });
    // Queued again (resolved_at null) until the server's resolver, running in this server too, re-compares it.
    expect(b.resolvedAt).not.toBe(a.resolvedAt);
  });

  it('takes a heartbeat without subjects: the place is fresh again, its rows unchanged', async () => {
    await send(agent, { agentId: 'hb-1', subjects: [subject('a')] });
    await resolve('hb-1', 'a', { stale_since: 5, reported_at: 1 });
    const beat = await send(agent, { agentId: 'hb-1' });
    expect(beat.body).toEqual({ stored: 0, removed: 0 });
    const [row] = (await ok('GET', '/api/v1/drift?place=hb-1')).items;
    expect(row.staleSince).toBeNull();
    expect(Date.parse(row.reportedAt)).toBeGreaterThan(Date.now() - 60_000);
    expect(row.versions[0].runningVersion).toBe('1.0.0');
  });

  it('refuses a bad report with 400 naming the field, and a body over the cap with 413', async () => {
    const bad = await send(agent, {
      agentId: 'bad-1',
      subjects: [{ ...subject('a'), versions: [{ runningVersion: '1' }] }],
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toBe('subjects[0].versions[0].resourceCount: required');
    const tooMany = Array.from({ length: driftReportLimits.subjects + 1 }, (_, i) => ({
      subject: `s${i}`,
      versions: [],
    }));
    const many = await send(agent, { agentId: 'bad-1', subjects: tooMany });
    expect(many.status).toBe(400);
    expect(many.body.error.message).toMatch(/^subjects: /);
    const long = 'x'.repeat(1024);
    const versions = Array.from({ length: 1000 }, () => ({
      runningVersion: '1',
      resourceCount: 1,
      extractedFrom: long,
    }));
    const huge = Array.from({ length: 5 }, (_, i) => ({ subject: `h${i}`, versions }));
    const big = await send(agent, { agentId: 'bad-1', subjects: huge });
    expect(big.status).toBe(413);
    expect((await ok('GET', '/api/v1/drift?place=bad-1')).items).toEqual([]);
  });

  it('takes agent tokens and instance credentials for their own agentId only; refuses others', async () => {
    const credential = await agentCredentialFor(server.url, agent, 'host-1');
    expect((await send(credential, { agentId: 'host-1', subjects: [subject('nginx')] })).status).toBe(202);
    const other = await send(credential, { agentId: 'host-2', subjects: [subject('nginx')] });
    expect(other.status).toBe(403);
    expect(other.body.error.message).toMatch(/host-1/);
    // An agent token (a cluster's agent) may not write, let alone erase, an enrolled host's rows.
    const spoof = await send(agent, { agentId: 'host-1', complete: true, subjects: [] });
    expect(spoof.status).toBe(403);
    expect(spoof.body.error.message).toMatch(/enrolled host/);
    expect((await ok('GET', '/api/v1/drift?place=host-1')).items.map((i: { subject: string }) => i.subject)).toEqual([
      'nginx',
    ]);
    expect((await send(undefined, { agentId: 'who-1', subjects: [] })).status).toBe(403); // admin
    expect((await send(viewer, { agentId: 'who-1', subjects: [] })).status).toBe(403);
    expect((await send(null, { agentId: 'who-1', subjects: [] })).status).toBe(401);
    expect((await ok('GET', '/api/v1/drift?place=host-2')).items).toEqual([]);
    expect((await ok('GET', '/api/v1/drift?place=who-1')).items).toEqual([]);
  });

  it('filters the list by tag, how far behind and staleness', async () => {
    await send(agent, { agentId: 'f-1', tags: { region: 'us', tier: 'gold' }, subjects: [subject('x'), subject('y')] });
    await send(agent, { agentId: 'f-2', tags: { region: 'us' }, subjects: [subject('x')] });
    await resolve('f-1', 'x', { behind: 'major', resolved_at: 1 });
    await resolve('f-1', 'y', { behind: 'patch', resolved_at: 1 });
    await resolve('f-2', 'x', { behind: 'none', stale_since: 1, resolved_at: 1 });
    const keys = async (q: string) =>
      (await ok('GET', `/api/v1/drift?${q}`)).items.map(
        (i: { place: string; subject: string }) => `${i.place}/${i.subject}`,
      );
    expect(await keys('tag=region:us')).toEqual(['f-1/x', 'f-1/y', 'f-2/x']);
    expect(await keys('tag=region:us&tag=tier:gold')).toEqual(['f-1/x', 'f-1/y']);
    expect(await keys('tag=region:us&behind=patch')).toEqual(['f-1/x', 'f-1/y']);
    expect(await keys('tag=region:us&behind=minor')).toEqual(['f-1/x']);
    expect(await keys('tag=region:us&behind=current')).toEqual(['f-2/x']);
    expect(await keys('tag=region:us&stale=true')).toEqual(['f-2/x']);
    expect(await keys('tag=region:us&stale=false&subject=x')).toEqual(['f-1/x']);
    expect((await call('GET', '/api/v1/drift?tag=nocolon')).status).toBe(400);
    expect((await call('GET', '/api/v1/drift?behind=lots')).status).toBe(400);
    expect((await call('GET', '/api/v1/drift?place=f-1&agent=f-2')).status).toBe(400);
  });

  it("answers a subject's detail with every place and its parsed resolution, 404 for none", async () => {
    expect((await send(agent, opvicAsReport('d-1'))).status).toBe(202);
    expect((await send(agent, opvicAsReport('d-2'))).status).toBe(202);
    await resolve('d-1', 'coredns', {
      latest: '1.9.0',
      behind: 'minor',
      resolution: JSON.stringify(resolution),
      resolved_at: 2,
    });
    const detail = await ok('GET', '/api/v1/drift/subjects/coredns');
    expect(detail.subject).toBe('coredns');
    expect(detail.latest).toBe('1.9.0');
    expect(detail.places.map((p: { place: string }) => p.place)).toEqual(['d-1', 'd-2']);
    expect(detail.places[0].resolution).toEqual(resolution);
    expect(Array.isArray(detail.places[1].resolution)).toBe(true);
    const none = await call('GET', '/api/v1/drift/subjects/nothing-here');
    expect(none.status).toBe(404);
    expect(none.body.error.code).toBe('not_found');
    expect((await call('GET', '/api/v1/drift/subjects/coredns', { token: null })).status).toBe(401);
  });

  it("answers Opvic's agent, subject and versions routes in Opvic's shapes", async () => {
    const payload = opvicAgentPayload();
    expect((await call('POST', '/api/v1alpha1/agents', { token: agent, body: payload })).status).toBe(202);
    // The subject comes back as the agent sent it.
    expect(await ok('GET', `/api/v1alpha1/agents/${payload.agentId}/coredns`)).toEqual(payload.version);
    expect(await ok('GET', `/api/v1alpha1/agents/${payload.agentId}`)).toEqual([payload.version]);
    // Not compared yet: 404, as Opvic's before its first reconcile.
    expect((await call('GET', `/api/v1alpha1/agents/${payload.agentId}/coredns/versions`)).status).toBe(404);
    await resolve(payload.agentId, 'coredns', {
      latest: '1.9.0',
      behind: 'minor',
      resolution: JSON.stringify(resolution),
      resolved_at: 3,
    });
    expect(await ok('GET', `/api/v1alpha1/agents/${payload.agentId}/coredns/versions`)).toEqual({
      id: 'coredns',
      agentId: 'prod-eu-1',
      resourceCount: 3,
      runningVersions: ['1.7.0'],
      latestVersion: '1.9.0',
      remoteProvider: 'github',
      remoteRepo: 'coredns/coredns',
      versions: [
        {
          currentVersion: '1.7.0',
          resourceCount: 3,
          resourceKind: 'Pods',
          extractedFrom: 'k8s.gcr.io/coredns:1.7.0',
          latestVersion: '1.9.0',
          availableVersions: ['1.7.1', '1.8.0', '1.9.0'],
          availableMajors: [],
          availableMinors: ['1.8.0', '1.9.0'],
          availablePatches: ['1.7.1'],
          majorAvailable: false,
          minorAvailable: true,
          patchAvailable: true,
        },
      ],
    });
    // With no upstream at all, Opvic says "missing".
    await send(agent, {
      agentId: 'plain-1',
      subjects: [{ subject: 'tool', versions: [{ runningVersion: '2', resourceCount: 1 }] }],
    });
    const plain = await ok('GET', '/api/v1alpha1/agents/plain-1/tool/versions');
    expect(plain).toMatchObject({
      latestVersion: 'missing',
      remoteProvider: '',
      versions: [{ majorAvailable: false }],
    });
    expect((await call('GET', '/api/v1alpha1/agents/nobody/coredns')).status).toBe(404);
    expect((await call('GET', '/api/v1alpha1/agents/nobody')).status).toBe(404);
    expect((await call('GET', `/api/v1alpha1/agents/${payload.agentId}/coredns`, { token: null })).status).toBe(401);
  });

  it('documents the new routes in the OpenAPI document', async () => {
    const doc = await call('GET', '/api/openapi.json', { token: null });
    for (const path of [
      '/api/v1/drift/reports',
      '/api/v1/drift/subjects/{subject}',
      '/api/v1alpha1/agents/{agent}',
      '/api/v1alpha1/agents/{agent}/{id}',
      '/api/v1alpha1/agents/{agent}/{id}/versions',
    ])
      expect(doc.body.paths[path], path).toBeDefined();
    const params = doc.body.paths['/api/v1/drift'].get.parameters.map((p: { name: string }) => p.name);
    expect(params).toEqual(expect.arrayContaining(['agent', 'tag', 'behind', 'stale']));
  });
});

/** The Opvic example as a batch report of one place. */
function opvicAsReport(agentId: string) {
  const { version, agentTags } = opvicAgentPayload();
  return {
    agentId,
    tags: agentTags,
    subjects: [
      {
        subject: version.id,
        namespace: version.namespace,
        versions: version.versions,
        upstream: { provider: 'github', strategy: 'releases', repo: 'coredns/coredns', constraint: '~>1' },
      },
    ],
  };
}
