import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { UsageResponse } from '@flotilla/protocol';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openDatabase } from '../src/db/connection.ts';
import { allStoreKinds, describeEachStore } from './support/databases.ts';
import { adminToken, startTestServer, type TestServer, writeTemp } from './support/server.ts';
import { makeTempDir } from './support/temp-dir.ts';

const requestSchema = {
  extraTagInfoSchema: { kubernetesVersion: { dataType: 'string', maxLen: 20 } },
  extraFieldInfoSchema: { nodeCount: { dataType: 'float' } },
};
const versions = (latest: string) => ({
  versions: [{ name: latest, releaseDate: '2026-01-01T00:00:00Z', tags: ['latest'] }],
});
// Public addresses the embedded database places in a known country.
const germanAddress = '85.214.132.117';
const usAddress = '8.8.8.8';

describeEachStore(allStoreKinds)('check-in storage, usage and privacy on %s', (kind) => {
  let server: TestServer;
  let responsePath: string;
  const checkIn = (body: object, headers: Record<string, string> = {}) =>
    fetch(`${server.url}/v1/checkupgrade`, { method: 'POST', body: JSON.stringify(body), headers });
  const api = (path: string, token: string | null = adminToken) =>
    fetch(`${server.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const stored = async () => {
    const db = openDatabase(server.database);
    try {
      return await db.db.selectFrom('checkins').selectAll().execute();
    } finally {
      await db.close();
    }
  };

  beforeAll(async () => {
    const dir = makeTempDir('flotilla-storage-');
    responsePath = writeTemp(dir, 'response.json', versions('v2.0.0'));
    server = await startTestServer(
      kind,
      {
        applicationName: 'demo',
        upgradeResponseConfig: responsePath,
        requestSchema: writeTemp(dir, 'schema.json', requestSchema),
        trustedProxies: '127.0.0.0/8',
        geodb: 'embedded',
        rateLimit: '0',
      },
      { dir },
    );
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('stores a durable record per check-in with location from the right-most untrusted address, and no address', async () => {
    const res = await checkIn(
      {
        appVersion: 'v1.0.0',
        extraTagInfo: { kubernetesVersion: 'v1.30.1', dropMe: 'x' },
        extraFieldInfo: { nodeCount: 3 },
      },
      // 10.1.2.3 is inside no trusted range... but private; the right-most untrusted is the German address.
      { 'x-forwarded-for': `${usAddress}, ${germanAddress}` },
    );
    expect(res.status).toBe(200);
    const rows = await stored();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      app: 'demo',
      app_version: 'v1.0.0',
      country_iso_code: 'DE',
      country: 'Germany',
      tags: '{"kubernetesVersion":"v1.30.1"}',
      fields: '{"nodeCount":3}',
    });
  });

  it('handles several X-Forwarded-For header lines and trusted hops', async () => {
    const res = await fetch(`${server.url}/v1/checkupgrade`, {
      method: 'POST',
      body: '{"appVersion":"v1.0.1"}',
      headers: [
        ['x-forwarded-for', usAddress],
        ['x-forwarded-for', '127.0.0.9'],
      ],
    });
    expect(res.status).toBe(200);
    const row = (await stored()).find((r) => r.app_version === 'v1.0.1');
    // 127.0.0.9 is a trusted proxy, so the client is the US address before it.
    expect(row?.country_iso_code).toBe('US');
  });

  it('never writes a client address or a hash of one anywhere in the data dir', async () => {
    await checkIn({ appVersion: 'v1.0.2', instanceId: 'inst-secret-1' }, { 'x-forwarded-for': germanAddress });
    const files = readdirSync(server.dir, { recursive: true, withFileTypes: true }).filter((f) => f.isFile());
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const bytes = readFileSync(join(f.parentPath, f.name)).toString('latin1');
      for (const secret of [germanAddress, usAddress, 'inst-secret-1']) expect(bytes).not.toContain(secret);
    }
    const db = openDatabase(server.database);
    try {
      const everything = JSON.stringify([
        await db.db.selectFrom('checkins').selectAll().execute(),
        await db.db.selectFrom('instance_sightings').selectAll().execute(),
      ]);
      for (const secret of [germanAddress, usAddress, 'inst-secret-1']) expect(everything).not.toContain(secret);
    } finally {
      await db.close();
    }
  });

  it('serves usage by version, country and tag, with unique instances, behind a token', async () => {
    for (const id of ['a', 'b', 'a', 'a']) {
      await checkIn(
        { appVersion: 'v3.0.0', instanceId: id, extraTagInfo: { kubernetesVersion: 'v1.31' } },
        { 'x-forwarded-for': usAddress },
      );
    }
    expect((await api('/api/v1/apps/demo/usage', null)).status).toBe(401);
    expect((await api('/api/v1/apps/demo/usage', 'flt_wrong')).status).toBe(401);
    const byVersion = (await (await api('/api/v1/apps/demo/usage?groupBy=appVersion')).json()) as UsageResponse;
    const v3 = byVersion.series.find((s) => s.key === 'v3.0.0');
    const last = v3?.points.at(-1);
    expect(last).toMatchObject({ checkins: 4, instances: 4, uniqueInstances: 2 });
    const byCountry = (await (await api('/api/v1/apps/demo/usage?groupBy=country&period=1d')).json()) as UsageResponse;
    expect(byCountry.period).toBe('24h');
    const us = byCountry.series.find((s) => s.key === 'US');
    expect(us?.points.reduce((n, p) => n + p.checkins, 0)).toBe(5);
    const byTag = (await (await api('/api/v1/apps/demo/usage?groupBy=tag:kubernetesVersion')).json()) as UsageResponse;
    expect(byTag.series.map((s) => [s.key, s.points.reduce((n, p) => n + p.checkins, 0)])).toEqual([
      ['v1.31', 4],
      ['v1.30.1', 1],
    ]);
    const bad = await api('/api/v1/apps/demo/usage?groupBy=tag:nope');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toContain('kubernetesVersion');
    expect((await api('/api/v1/apps/demo/usage?period=90s')).status).toBe(400);
    expect((await api('/api/v1/apps/nope/usage')).status).toBe(404);
    const apps = (await (await api('/api/v1/apps')).json()) as { apps: Array<{ name: string; tagKeys: string[] }> };
    expect(apps.apps.map((a) => [a.name, a.tagKeys])).toEqual([['demo', ['kubernetesVersion']]]);
  });

  it('counts accepted and dropped check-ins and values in Prometheus format', async () => {
    await checkIn({ appVersion: 'v'.repeat(300) });
    await checkIn({ appVersion: 'v1', extraFieldInfo: { nodeCount: 'three' } });
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).toMatch(/flotilla_checkins_accepted_total\{app="demo"\} \d+/);
    expect(text).toContain('flotilla_checkins_dropped_total{app="demo",reason="app_version_too_long"} 1');
    expect(text).toContain('flotilla_checkin_values_dropped_total{app="demo",kind="tag",reason="not_in_schema"} 1');
    expect(text).toContain('flotilla_checkin_values_dropped_total{app="demo",kind="field",reason="wrong_type"} 1');
    expect(text).toMatch(/flotilla_store_batch_size_count \d+/);
    expect(text).toMatch(
      /flotilla_http_request_duration_seconds_bucket\{le="0.005",method="POST",route="\/v1\/checkupgrade"\}/,
    );
  });

  it('reloads a changed response config and keeps the old answer when the new file is bad', async () => {
    const answer = async () =>
      ((await (await checkIn({ appVersion: 'v1' })).json()) as { versions: Array<{ name: string }> }).versions[0]?.name;
    expect(await answer()).toBe('v2.0.0');
    writeFileSync(responsePath, JSON.stringify(versions('v2.1.0')));
    await expect.poll(answer, { timeout: 5000, interval: 50 }).toBe('v2.1.0');
    writeFileSync(
      responsePath,
      JSON.stringify({ versions: [{ name: 'v9.9.9', releaseDate: null, tags: ['latest'] }] }),
    );
    await expect
      .poll(async () => (await (await fetch(`${server.url}/metrics`)).text()).includes('result="rejected"'), {
        timeout: 5000,
      })
      .toBe(true);
    expect(await answer()).toBe('v2.1.0');
  });
});
