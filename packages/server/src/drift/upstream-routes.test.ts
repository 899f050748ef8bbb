// The resolver as the server runs it: started with the server, fed by rows ingestion queues, and seen
// through GET /api/v1/drift/upstreams and /api/v1/drift/metrics.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type ApiCallOptions, callApi } from '../../test/support/api.ts';
import { allStoreKinds, describeEachStore } from '../../test/support/databases.ts';
import { startTestServer, type TestServer } from '../../test/support/server.ts';
import { TokenStore } from '../auth/tokens.ts';
import { type Database, openDatabase } from '../db/connection.ts';
import { putRow, readRow, running } from './resolver.test-support.ts';
import { FakeUpstream } from './upstreams/fake-upstream.test-support.ts';

const coredns = { provider: 'github', strategy: 'releases', repo: 'coredns/coredns' };

describeEachStore(allStoreKinds)('drift upstreams on a running server (%s)', (kind) => {
  let server: TestServer;
  let store: Database;
  let fake: FakeUpstream;
  let viewer: string;
  const call = (path: string, opts: ApiCallOptions = {}) => callApi(server.url, 'GET', path, opts);

  beforeAll(async () => {
    fake = await new FakeUpstream().start();
    fake.answer('/repos/coredns/coredns/releases?per_page=100', {
      headers: { etag: '"a"', 'x-ratelimit-remaining': '4999', 'x-ratelimit-limit': '5000' },
      body: JSON.stringify([{ tag_name: 'v1.9.0' }, { tag_name: 'v1.8.0' }]),
    });
    server = await startTestServer(kind, { driftGithubUrl: fake.origin, driftGithubToken: 'ghp_test' });
    store = openDatabase(server.database);
    viewer = (await new TokenStore(store.db).create('viewer', 'viewer')).token;
  });
  afterAll(async () => {
    await store?.close();
    await server?.stop();
    await fake?.stop();
  });

  it('resolves queued rows in the background and shows the upstream status to viewers', async () => {
    await putRow(store.db, { place: 'eu-1', subject: 'coredns', versions: [running('1.8.0')], upstream: coredns });
    await putRow(store.db, { place: 'us-1', subject: 'coredns', versions: [running('1.9.0')], upstream: coredns });
    const deadline = Date.now() + 15_000;
    while ((await readRow(store.db, 'us-1', 'coredns')).resolved_at === null && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await readRow(store.db, 'eu-1', 'coredns')).toMatchObject({ behind: 'minor', latest: 'v1.9.0' });
    expect(fake.count('/repos/coredns/coredns/releases?per_page=100')).toBe(1);
    expect(fake.requests[0]?.headers.authorization).toBe('Bearer ghp_test');

    const res = await call('/api/v1/drift/upstreams', { token: viewer });
    expect(res.status).toBe(200);
    expect(res.body).toEqual([
      expect.objectContaining({
        key: `github:${new URL(fake.origin).host}/coredns/coredns/releases`,
        provider: 'github',
        subjects: 2,
        versions: 2,
        latest: 'v1.9.0',
        error: null,
        failures: 0,
        rateLimit: expect.objectContaining({ limit: 5000, remaining: 4999 }),
      }),
    ]);
    expect(res.body[0].ageSeconds).toBeGreaterThanOrEqual(0);
    expect((await call('/api/v1/drift/upstreams', { token: null })).status).toBe(401);

    // An inventory of what runs where: viewers only, never on the public /metrics.
    expect((await call('/metrics')).bytes.toString()).not.toContain('flotilla_drift_');
    expect((await call('/api/v1/drift/metrics', { token: null })).status).toBe(401);
    const metrics = await call('/api/v1/drift/metrics', { token: viewer });
    expect(metrics.status).toBe(200);
    const text = metrics.bytes.toString();
    expect(text).toContain('flotilla_drift_places{environment="prod",subject="coredns",behind="minor"} 1');
    expect(text).toContain('flotilla_drift_upstream_fetches_total{provider="github",result="ok"} 1');
    expect(text).not.toContain('ghp_test');
  });
});
