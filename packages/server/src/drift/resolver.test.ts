import type { DriftVersionResolution } from '@flotilla/protocol';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { allStoreKinds, describeEachStore, useMigratedDatabase } from '../../test/support/databases.ts';
import { resolveDriftUpstreams } from '../config/drift-upstreams.ts';
import { putRow, readRow, running } from './resolver.test-support.ts';
import { createResolver, type FetchOutcome } from './resolver.ts';
import { createUpstreamPolicy } from './upstream-policy.ts';
import { FakeUpstream, readFixture } from './upstreams/fake-upstream.test-support.ts';

const hour = 3_600_000;
const t0 = Date.parse('2026-03-01T12:00:00Z');

const release = (tag: string, extra: Record<string, unknown> = {}) => ({
  tag_name: tag,
  draft: false,
  prerelease: false,
  published_at: '2026-01-01T00:00:00Z',
  html_url: `https://github.com/coredns/coredns/releases/tag/${tag}`,
  ...extra,
});

const coredns = {
  provider: 'github',
  strategy: 'releases',
  repo: 'coredns/coredns',
  extraction: { regex: { pattern: '^v([0-9.]+)$', result: '$1' } },
  constraint: '~> 1.7',
};

const helmIndex = `apiVersion: v1
entries:
  app:
    - version: 2.1.0
      appVersion: 1.4.0
    - version: 2.0.0
      appVersion: 1.3.0
`;

describeEachStore(allStoreKinds)('drift resolver on %s', (kind) => {
  const handle = useMigratedDatabase(kind);
  let fake: FakeUpstream;
  let clock: number;
  const fetches: Array<[string, FetchOutcome]> = [];
  const releasesPath = '/repos/coredns/coredns/releases?per_page=100';

  beforeEach(async () => {
    fake = await new FakeUpstream().start();
    clock = t0;
    fetches.length = 0;
    fake.answer(releasesPath, {
      headers: { etag: '"r1"', 'content-type': 'application/json' },
      body: JSON.stringify([
        release('v2.0.0-rc.1', { prerelease: true }),
        release('v1.9.0'),
        release('v1.8.1'),
        release('v1.8.0'),
        release('v1.7.1'),
        release('v1.7.0'),
        release('v1.10.0', { draft: true }),
      ]),
    });
  });
  afterEach(() => fake.stop());

  const resolver = (allowHosts: string[] = [], registries = {}) =>
    createResolver({
      db: handle.current.db,
      config: {
        ...resolveDriftUpstreams({}, process.cwd()),
        github: { baseUrl: fake.origin },
        endoflifeUrl: fake.origin,
        allowHosts,
        registries,
      },
      now: () => clock,
      onFetch: (provider, outcome) => fetches.push([provider, outcome]),
    });

  it('compares two places running the same upstream with one fetch', async () => {
    const db = handle.current.db;
    await putRow(db, { place: 'eu-1', subject: 'coredns', versions: [running('1.7.0')], upstream: coredns });
    await putRow(db, {
      place: 'us-1',
      subject: 'coredns',
      versions: [running('1.8.1'), running('1.9.0')],
      upstream: coredns,
    });
    const r = resolver();
    expect(await r.runOnce()).toEqual({ resolved: 2, upstreams: 1 });
    expect(fake.count(releasesPath)).toBe(1);
    expect(fetches).toEqual([['github', 'ok']]);

    const eu = await readRow(db, 'eu-1', 'coredns');
    expect(eu).toMatchObject({
      upstream_key: `github:${new URL(fake.origin).host}/coredns/coredns/releases`,
      latest: '1.9.0',
      behind: 'minor',
      resolve_error: null,
    });
    expect([eu.majors_behind, eu.minors_behind, eu.patches_behind]).toEqual([0, 2, 1]);
    expect(Number(eu.resolved_at)).toBe(t0);
    const resolution = JSON.parse(eu.resolution as string) as DriftVersionResolution[];
    // Newest first, with date and link; the prerelease (constraint names none) and the draft are left out.
    expect(resolution[0]?.newer.map((n) => n.version)).toEqual(['1.9.0', '1.8.1', '1.8.0', '1.7.1']);
    expect(resolution[0]?.newer[0]).toMatchObject({
      publishedAt: '2026-01-01T00:00:00Z',
      url: 'https://github.com/coredns/coredns/releases/tag/v1.9.0',
    });

    // The oldest running version sets the row's figures; each version has its own resolution.
    const us = await readRow(db, 'us-1', 'coredns');
    expect([us.behind, us.majors_behind, us.minors_behind, us.patches_behind]).toEqual(['minor', 0, 1, 0]);
    const usRes = JSON.parse(us.resolution as string) as DriftVersionResolution[];
    expect(usRes.map((v) => [v.runningVersion, v.behind])).toEqual([
      ['1.8.1', 'minor'],
      ['1.9.0', 'none'],
    ]);
    expect(await r.runOnce()).toEqual({ resolved: 0, upstreams: 0 });
  });

  it('compares a row again when its content changes, from the list held', async () => {
    const db = handle.current.db;
    await putRow(db, { place: 'eu-1', subject: 'coredns', versions: [running('1.7.0')], upstream: coredns });
    const r = resolver();
    await r.runOnce();
    clock += 60_000;
    await putRow(db, { place: 'eu-1', subject: 'coredns', versions: [running('1.9.0')], upstream: coredns }, clock);
    expect((await r.runOnce()).resolved).toBe(1);
    expect(await readRow(db, 'eu-1', 'coredns')).toMatchObject({ behind: 'none', latest: '1.9.0' });
    expect(fake.count(releasesPath)).toBe(1);
  });

  it('re-queues the rows of an upstream whose list changed after the TTL, and only then', async () => {
    const db = handle.current.db;
    await putRow(db, { place: 'eu-1', subject: 'coredns', versions: [running('1.9.0')], upstream: coredns });
    const r = resolver();
    await r.runOnce();
    expect(await r.refresh()).toEqual({ changed: [] });
    expect(fake.count(releasesPath)).toBe(1);

    // Past the TTL, an unchanged list is a conditional request answered 304: nothing to compare again.
    clock += hour + 1;
    expect(await r.refresh()).toEqual({ changed: [] });
    expect(fake.requests.at(-1)?.headers['if-none-match']).toBe('"r1"');
    expect(fetches.at(-1)).toEqual(['github', 'not_modified']);

    fake.answer(releasesPath, {
      headers: { etag: '"r2"' },
      body: JSON.stringify([release('v1.10.0'), release('v1.9.0')]),
    });
    clock += hour + 1;
    const key = `github:${new URL(fake.origin).host}/coredns/coredns/releases`;
    expect(await r.refresh()).toEqual({ changed: [key] });
    expect((await readRow(db, 'eu-1', 'coredns')).resolved_at).toBeNull();
    await r.runOnce();
    expect(await readRow(db, 'eu-1', 'coredns')).toMatchObject({ latest: '1.10.0', behind: 'minor', minors_behind: 1 });
  });

  it('offers prereleases only when the constraint names one', async () => {
    const db = handle.current.db;
    const pre = { ...coredns, extraction: { regex: { pattern: '^v(.+)$' } }, constraint: '>= 2.0.0-rc.0' };
    await putRow(db, { place: 'eu-1', subject: 'coredns', versions: [running('1.9.0')], upstream: pre });
    await resolver().runOnce();
    expect(await readRow(db, 'eu-1', 'coredns')).toMatchObject({ latest: '2.0.0-rc.1', behind: 'major' });
  });

  it('says unknown, and why, for a running version that is not one', async () => {
    const db = handle.current.db;
    await putRow(db, { place: 'eu-1', subject: 'coredns', versions: [running('latest')], upstream: coredns });
    await putRow(db, {
      place: 'eu-2',
      subject: 'coredns',
      versions: [running('1.8.0')],
      upstream: { ...coredns, constraint: '>>> 1' },
    });
    await resolver().runOnce();
    const row = await readRow(db, 'eu-1', 'coredns');
    expect(row).toMatchObject({ behind: 'unknown', latest: '1.9.0', majors_behind: null });
    expect(row.resolve_error).toContain('"latest" is not a version');
    const bad = await readRow(db, 'eu-2', 'coredns');
    expect(bad.behind).toBe('unknown');
    expect(bad.resolve_error).toContain('>>> 1');
  });

  it('keeps the last good list when a fetch fails, and says so', async () => {
    const db = handle.current.db;
    await putRow(db, { place: 'eu-1', subject: 'coredns', versions: [running('1.7.0')], upstream: coredns });
    const r = resolver();
    await r.runOnce();
    fake.answer(releasesPath, { status: 502, body: '<html>bad gateway</html>' });
    clock += hour + 1;
    await putRow(db, { place: 'eu-1', subject: 'coredns', versions: [running('1.8.0')], upstream: coredns }, clock);
    await r.runOnce();
    const row = await readRow(db, 'eu-1', 'coredns');
    expect(row).toMatchObject({ latest: '1.9.0', behind: 'minor' });
    expect(row.resolve_error).toMatch(/upstream fetch failed, using the list from 60 min ago: .*HTTP 502/);
    expect(fetches.at(-1)).toEqual(['github', 'http']);
  });

  it('reads end of support from endoflife.date for the running cycle', async () => {
    const db = handle.current.db;
    fake.answer('/api/eks.json', { body: readFixture('endoflife-eks.json') });
    const eks = { provider: 'endoflife', repo: 'eks' };
    await putRow(db, { place: 'eu-1', subject: 'kubelet', versions: [running('v1.24.9-eks-49d8fe8')], upstream: eks });
    await resolver().runOnce();
    const row = await readRow(db, 'eu-1', 'kubelet');
    expect(row).toMatchObject({ latest: '1.26', behind: 'minor', minors_behind: 2 });
    expect(Number(row.support_ends_at)).toBe(Date.parse('2024-01-01'));
  });

  it('compares an ImageTag subject with its image tags, and a chart in an OCI registry', async () => {
    const db = handle.current.db;
    const host = new URL(fake.origin).host;
    fake.answer('/v2/team/app/tags/list?n=1000', { body: JSON.stringify({ tags: ['1.0.0', '1.1.0', 'latest'] }) });
    fake.answer('/v2/charts/app/tags/list?n=1000', { body: JSON.stringify({ tags: ['2.0.0', '2.1.0_build.1'] }) });
    await putRow(db, { place: 'eu-1', subject: 'app', versions: [running('1.0.0', `${host}/team/app`)] });
    await putRow(db, {
      place: 'eu-1',
      subject: 'chart',
      versions: [running('2.0.0')],
      upstream: { provider: 'helm', strategy: 'chartVersion', repo: `oci://${host}/charts`, chart: 'app' },
    });
    await putRow(db, { place: 'eu-1', subject: 'none', versions: [running('1.0.0')] });
    // A registry with a configured base URL needs no --drift-upstream-allow-host.
    await resolver([], { [host]: { baseUrl: fake.origin } }).runOnce();
    expect(await readRow(db, 'eu-1', 'app')).toMatchObject({
      upstream_key: `oci:${host}/team/app`,
      latest: '1.1.0',
      behind: 'minor',
    });
    expect(await readRow(db, 'eu-1', 'chart')).toMatchObject({
      upstream_key: `helm-oci:${host}/charts/app`,
      latest: '2.1.0+build.1',
      behind: 'minor',
    });
    // The image's own tags are refreshed like any upstream, named by the key alone.
    fake.answer('/v2/team/app/tags/list?n=1000', { body: JSON.stringify({ tags: ['1.0.0', '1.1.0', '1.2.0'] }) });
    clock += hour + 1;
    const again = resolver([], { [host]: { baseUrl: fake.origin } });
    expect((await again.refresh()).changed).toContain(`oci:${host}/team/app`);
    await again.runOnce();
    expect(await readRow(db, 'eu-1', 'app')).toMatchObject({ latest: '1.2.0', minors_behind: 2 });
    // No upstream and no image: nothing to compare with, and nothing waits.
    const none = await readRow(db, 'eu-1', 'none');
    expect(none).toMatchObject({ behind: null, upstream_key: null, resolve_error: null });
    expect(none.resolved_at).not.toBeNull();
  });

  it('treats a name that does not resolve as a failed fetch, kept for a retry, not a refusal', async () => {
    const db = handle.current.db;
    const repo = 'https://charts.example.invalid';
    await putRow(db, {
      place: 'a',
      subject: 'chart',
      versions: [running('1.0.0')],
      upstream: { provider: 'helm', strategy: 'chartVersion', repo, chart: 'app' },
    });
    const unresolvable = async (): Promise<string[]> => {
      throw new Error('getaddrinfo ENOTFOUND');
    };
    await createResolver({ db, policy: createUpstreamPolicy({ resolve: unresolvable }), now: () => clock }).runOnce();
    const row = await readRow(db, 'a', 'chart');
    expect(row.behind).toBe('unknown');
    expect(row.resolve_error).toContain('cannot resolve charts.example.invalid');
    expect(row.resolve_error).not.toContain('refused');
    const state = await db.selectFrom('drift_upstreams').selectAll().executeTakeFirstOrThrow();
    expect(state).toMatchObject({ key: `helm:${repo}/index.yaml#app/chartVersion`, failures: 1 });
  });

  it('refuses upstreams at loopback addresses or over plain HTTP unless their host is allowed', async () => {
    const db = handle.current.db;
    fake.answer('/index.yaml', { body: helmIndex });
    const host = new URL(fake.origin).host;
    const helm = (repo: string) => ({ provider: 'helm', strategy: 'chartVersion', repo, chart: 'app' });
    await putRow(db, { place: 'a', subject: 'http', versions: [running('2.0.0')], upstream: helm(fake.origin) });
    await putRow(db, { place: 'a', subject: 'https', versions: [running('2.0.0')], upstream: helm(`https://${host}`) });
    await putRow(db, { place: 'a', subject: 'image', versions: [running('1.0', `${host}/team/app`)] });
    await putRow(db, { place: 'a', subject: 'meta', versions: [running('1.0', '169.254.169.254/x')] });
    await resolver().runOnce();
    expect(fake.requests).toEqual([]);
    expect(fetches).toEqual([]);
    for (const subject of ['http', 'https', 'image', 'meta']) {
      const row = await readRow(db, 'a', subject);
      expect(row.behind, subject).toBe('unknown');
      expect(row.resolve_error, subject).toContain('refused by the upstream policy');
    }
    expect((await readRow(db, 'a', 'http')).resolve_error).toContain('plain HTTP');
    expect((await readRow(db, 'a', 'https')).resolve_error).toContain('loopback');
    // Nothing was recorded for refused upstreams.
    expect(await db.selectFrom('drift_upstreams').selectAll().execute()).toEqual([]);

    await putRow(db, { place: 'b', subject: 'http', versions: [running('2.0.0')], upstream: helm(fake.origin) });
    await resolver([host]).runOnce();
    expect(await readRow(db, 'b', 'http')).toMatchObject({ latest: '2.1.0', behind: 'minor', resolve_error: null });
  });
});

it('follows a redirect only after checking its target', async () => {
  const fake = await new FakeUpstream().start();
  try {
    fake.route('/index.yaml', () => ({ status: 302, headers: { location: 'http://169.254.169.254/latest/' } }));
    const policy = createUpstreamPolicy({ allowHosts: [new URL(fake.origin).host] });
    const { helmProvider } = await import('./upstreams/helm.ts');
    const helm = helmProvider({ guard: (url) => policy.check(url) });
    await expect(helm.list({ repo: fake.origin, chart: 'app', strategy: 'chartVersion' }, {})).rejects.toMatchObject({
      kind: 'refused',
    });
    expect(fake.requests).toHaveLength(1);
  } finally {
    await fake.stop();
  }
});
