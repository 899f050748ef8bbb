import { afterAll, beforeAll, expect, it } from 'vitest';
import { callApi } from './support/api.ts';
import { allStoreKinds, describeEachStore } from './support/databases.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { makeTempDir } from './support/temp-dir.ts';

describeEachStore(allStoreKinds)('usage API on %s', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind, { rateLimit: '0' }, { dir: makeTempDir('flotilla-usage-') });
  });
  afterAll(async () => {
    await server?.stop();
  });
  const get = (path: string) => callApi(server.url, 'GET', path);

  it('answers one check-in with a short summary and one point, and the dense series on fill=true', async () => {
    const checkin = await fetch(`${server.url}/v1/checkupgrade`, {
      method: 'POST',
      body: JSON.stringify({ appVersion: 'v0.0.9', instanceId: 'i-1' }),
    });
    expect(checkin.status).toBe(200);

    const sparse = await get('/api/v1/apps/default/usage?groupBy=appVersion');
    expect(sparse.status).toBe(200);
    expect(sparse.body.summary).toEqual([{ key: 'v0.0.9', instances: 1, uniqueInstances: 1 }]);
    expect(sparse.body.series).toHaveLength(1);
    expect(sparse.body.series[0].points).toEqual([
      { time: expect.any(String), checkins: 1, instances: 1, uniqueInstances: 1 },
    ]);
    // Readable: a few hundred bytes, not a week of zero points.
    expect(sparse.bytes.length).toBeLessThan(600);

    const dense = await get('/api/v1/apps/default/usage?groupBy=appVersion&fill=true');
    expect(dense.status).toBe(200);
    const points = dense.body.series[0].points as Array<{ checkins: number }>;
    // Seven days of hourly buckets, from an hour boundary up to the one holding now.
    expect(points.length).toBeGreaterThanOrEqual(7 * 24);
    expect(points.filter((p) => p.checkins > 0)).toHaveLength(1);
    expect(dense.body.summary).toEqual(sparse.body.summary);

    const bad = await get('/api/v1/apps/default/usage?fill=yes');
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid');
  });

  it('documents fill and the summary in the OpenAPI document', async () => {
    const doc = (await get('/api/openapi.json')).body;
    const op = doc.paths['/api/v1/apps/{app}/usage'].get;
    expect(op.parameters.map((p: { name: string }) => p.name)).toContain('fill');
    const answer = op.responses['200'].content['application/json'].schema;
    expect(answer.required).toEqual(expect.arrayContaining(['summary', 'series']));
    expect(Object.keys(answer.properties.summary.items.properties).sort()).toEqual([
      'instances',
      'key',
      'uniqueInstances',
    ]);
  });
});
