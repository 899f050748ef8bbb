import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { makeArtifact } from '../src/catalog/archive.test.helper.ts';
import { allStoreKinds, describeEachStore } from './support/databases.ts';
import { adminToken, startTestServer, type TestServer } from './support/server.ts';

describeEachStore(allStoreKinds)('check-in answers from the release catalog on %s', (kind) => {
  let server: TestServer;
  const api = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${adminToken}`,
        ...(body && !(body instanceof Buffer) ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body instanceof Buffer ? body : body === undefined ? undefined : JSON.stringify(body),
    });
  const answer = async () => {
    const res = await fetch(`${server.url}/v1/checkupgrade`, { method: 'POST', body: '{"appVersion":"1.0.0"}' });
    return ((await res.json()) as { versions: Array<{ name: string; tags: string[] }> }).versions;
  };

  beforeAll(async () => {
    server = await startTestServer(kind, {
      catalogService: 'web',
      catalogTags: 'latest=production,beta=test',
      rateLimit: '0',
    });
    expect((await api('POST', '/api/v1/services', { name: 'web' })).status).toBe(201);
    const artifact = readFileSync(
      await makeArtifact({ run: { command: 'node', args: ['server.js'] } }, { 'server.js': '' }),
    );
    for (const v of ['1.0.0', '1.1.0', '1.2.0']) {
      const res = await api('PUT', `/api/v1/services/web/versions/${v}`, artifact, {
        'content-type': 'application/gzip',
      });
      expect(res.status).toBe(201);
    }
    for (const env of ['test', 'production'])
      expect((await api('POST', '/api/v1/environments', { name: env })).status).toBe(201);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('lists published versions newest first and tags the ones environments desire', async () => {
    await expect
      .poll(async () => (await answer()).map((v) => v.name), { timeout: 5000 })
      .toEqual(['1.2.0', '1.1.0', '1.0.0']);
    expect((await answer()).every((v) => v.tags.length === 0)).toBe(true);
    expect((await api('PATCH', '/api/v1/environments/production/desired', { set: { web: '1.1.0' } })).status).toBe(200);
    expect((await api('PATCH', '/api/v1/environments/test/desired', { set: { web: '1.2.0' } })).status).toBe(200);
    await expect
      .poll(async () => (await answer()).map((v) => [v.name, v.tags]), { timeout: 5000 })
      .toEqual([
        ['1.2.0', ['beta']],
        ['1.1.0', ['latest']],
        ['1.0.0', []],
      ]);
    const apps = (await (await api('GET', '/api/v1/apps')).json()) as {
      apps: Array<{ catalog: unknown; responseConfig: unknown }>;
    };
    expect(apps.apps[0]).toMatchObject({
      catalog: { service: 'web', tags: { latest: 'production', beta: 'test' } },
      responseConfig: null,
    });
  });
});
