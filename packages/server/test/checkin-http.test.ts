import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allStoreKinds, describeEachStore } from './support/databases.ts';
import { startTestServer, type TestServer, writeTemp } from './support/server.ts';
import { makeTempDir } from './support/temp-dir.ts';

const responseConfig = {
  versions: [
    { name: 'v1.0.0', releaseDate: '2020-05-30T10:20:00Z', tags: ['stable'] },
    {
      name: 'v1.1.0',
      releaseDate: '2020-06-30T10:20:00Z',
      minUpgradableVersion: 'v1.0.0',
      tags: ['latest', 'stable'],
      extraInfo: { k: 'v' },
    },
    { name: 'v0.9.0', releaseDate: '2020-04-30T10:20:00Z', tags: ['old'] },
  ],
};
const requestSchema = {
  appVersionSchema: { dataType: 'string', maxLen: 50 },
  extraTagInfoSchema: { kubernetesVersion: { dataType: 'string', maxLen: 20 } },
  extraFieldInfoSchema: { nodeCount: { dataType: 'float' } },
};
const expectedBody =
  '{"versions":[{"name":"v1.1.0","releaseDate":"2020-06-30T10:20:00Z","minUpgradableVersion":"v1.0.0","tags":["latest","stable"],"extraInfo":{"k":"v"}},' +
  '{"name":"v1.0.0","releaseDate":"2020-05-30T10:20:00Z","minUpgradableVersion":"","tags":["stable"],"extraInfo":null},' +
  '{"name":"v0.9.0","releaseDate":"2020-04-30T10:20:00Z","minUpgradableVersion":"","tags":["old"],"extraInfo":null}],"requestIntervalInMinutes":60}';

describeEachStore(allStoreKinds)('check-in HTTP API on %s', (kind) => {
  let server: TestServer;
  let responsePath: string;
  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, { method: 'POST', body, headers });
  beforeAll(async () => {
    const dir = makeTempDir('flotilla-http-');
    responsePath = writeTemp(dir, 'response.json', responseConfig);
    const schemaPath = writeTemp(dir, 'schema.json', requestSchema);
    server = await startTestServer(
      kind,
      { applicationName: 'longhorn', upgradeResponseConfig: responsePath, requestSchema: schemaPath, rateLimit: '0' },
      { dir },
    );
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('answers the Go client’s exact request with upgrade-responder’s exact bytes, newest first', async () => {
    const res = await post(
      '/v1/checkupgrade',
      '{"appVersion":"v1.5.0","extraTagInfo":null,"extraFieldInfo":null,"extraInfo":{"kubernetesVersion":"v1.28.1"}}\n',
      { 'content-type': 'application/json', 'user-agent': 'Go-http-client/1.1' },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.text()).toBe(expectedBody);
  });

  it('reads bodies sent as text/plain or with no content type (fetch-based clients)', async () => {
    for (const headers of [{ 'content-type': 'text/plain;charset=UTF-8' }, {}] as Record<string, string>[]) {
      const res = await post('/v1/checkupgrade', JSON.stringify({ appVersion: 'v1.0.0' }), headers);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe(expectedBody);
    }
  });

  it('serves the app under /v1/apps/:app/checkupgrade and 404s an unknown app', async () => {
    expect((await post('/v1/apps/longhorn/checkupgrade', '{"appVersion":"v1.0.0"}')).status).toBe(200);
    const res = await post('/v1/apps/nope/checkupgrade', '{"appVersion":"v1.0.0"}');
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: 'not_found', message: 'no app named "nope"' } });
  });

  it.each([
    ['{"appVersion":', 'invalid'],
    ['null', 'invalid'],
    ['[]', 'invalid'],
    ['{"appVersion":5}', 'invalid'],
    ['{"appVersion":"v1","extraTagInfo":{"kubernetesVersion":1}}', 'invalid'],
    ['', 'invalid'],
  ])('refuses %j with 400 and a JSON error body', async (body, code) => {
    const res = await post('/v1/checkupgrade', body, { 'content-type': 'application/json' });
    expect(res.status).toBe(400);
    const json = (await res.json()) as { error: { code: string; message: string } };
    expect(json.error.code).toBe(code);
    expect(json.error.message.length).toBeGreaterThan(5);
  });

  it('refuses a body over 64 KiB with 413', async () => {
    const big = JSON.stringify({ appVersion: 'v1', extraFieldInfo: { pad: 'x'.repeat(70_000) } });
    const res = await post('/v1/checkupgrade', big, { 'content-type': 'application/json' });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('payload_too_large');
  });

  it('publishes an OpenAPI document of the routes', async () => {
    const doc = (await (await fetch(`${server.url}/api/openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/v1/checkupgrade',
        '/v1/apps/{app}/checkupgrade',
        '/api/v1/apps',
        '/api/v1/apps/{app}/usage',
      ]),
    );
    expect((await fetch(`${server.url}/api/docs`)).status).toBe(200);
  });

  it('answers GET with 405 and keeps the compat health check', async () => {
    const res = await fetch(`${server.url}/v1/checkupgrade`);
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    const health = await fetch(`${server.url}/v1/healthcheck`);
    expect(health.status).toBe(200);
    expect(await health.text()).toBe('');
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${server.url}/readyz`)).json()).toEqual({ status: 'ready' });
  });
});

describe('check-in limits and casing', () => {
  let server: TestServer;
  beforeAll(async () => {
    const dir = makeTempDir('flotilla-limits-');
    server = await startTestServer(
      'sqlite',
      {
        upgradeResponseConfig: writeTemp(dir, 'r.json', responseConfig),
        rateLimit: '3',
        responseCasing: 'pascal',
        queryPeriod: '2h',
      },
      { dir },
    );
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('answers PascalCase for v0.1.x clients, with the interval from --query-period', async () => {
    const res = await fetch(`${server.url}/v1/checkupgrade`, { method: 'POST', body: '{"appVersion":"v1.0.0"}' });
    const body = (await res.json()) as { versions: Array<Record<string, unknown>>; requestIntervalInMinutes: number };
    expect(Object.keys(body.versions[0] ?? {})).toEqual([
      'Name',
      'ReleaseDate',
      'MinUpgradableVersion',
      'Tags',
      'ExtraInfo',
    ]);
    expect(body.versions.map((v) => v.Name)).toEqual(['v1.1.0', 'v1.0.0', 'v0.9.0']);
    expect(body.requestIntervalInMinutes).toBe(120);
  });

  it('answers 429 with Retry-After once a client is over its rate limit', async () => {
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 4; i++) {
      last = await fetch(`${server.url}/v1/checkupgrade`, { method: 'POST', body: '{"appVersion":"v1.0.0"}' });
      statuses.push(last.status);
    }
    // The casing test above used one of the three.
    expect(statuses).toEqual([200, 200, 429, 429]);
    expect(Number(last?.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await last?.json()).toMatchObject({ error: { code: 'rate_limited' } });
  });
});
