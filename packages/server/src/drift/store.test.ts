import { OpvicAgentPayload } from '@flotilla/protocol';
import { Value } from 'typebox/value';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { opvicAgentPayload } from '../../../protocol/test/fixtures/opvic-agent-payload.ts';
import { allStoreKinds, describeEachStore, useMigratedDatabase } from '../../test/support/databases.ts';
import { DatabaseUpstreamStateStore, DriftStore, DriftTooLarge, driftLimits, type SubjectReport } from './store.ts';
import { UpstreamCache, type UpstreamState } from './upstreams/cache.ts';
import { FakeUpstream, githubExchanges } from './upstreams/fake-upstream.test-support.ts';
import { githubProvider } from './upstreams/github.ts';

const minute = 60_000;
const hour = 60 * minute;
const t0 = Date.parse('2026-03-01T12:00:00Z');

// The payload Opvic's agent sends, as the Opvic route hands it to the store.
const opvic = opvicAgentPayload();

const unresolved = {
  upstreamKey: null,
  latest: null,
  majorsBehind: null,
  minorsBehind: null,
  patchesBehind: null,
  behind: null,
  supportEndsAt: null,
  resolution: null,
  resolvedAt: null,
  resolveError: null,
};

const report = (subject: string, runningVersion = '1.0.0'): SubjectReport => ({
  subject,
  versions: [{ runningVersion, resourceCount: 1, resourceKind: 'Pods' }],
  upstream: { provider: 'github', strategy: 'releases', repo: `o/${subject}` },
});

describeEachStore(allStoreKinds)('drift store on %s', (kind) => {
  const handle = useMigratedDatabase(kind);
  const store = () => new DriftStore(handle.current.db);

  it('stores the Opvic example payload and reads it back', async () => {
    expect(Value.Check(OpvicAgentPayload, opvic)).toBe(true);
    const { agentId, agentTags, version } = opvic;
    await store().upsertReport(
      agentId,
      'prod',
      agentTags,
      {
        subject: version.id,
        namespace: version.namespace,
        versions: version.versions,
        upstream: version.remoteVersion,
      },
      t0,
    );
    const page = await store().list({ limit: 10 });
    expect(page).toEqual({
      items: [
        {
          environment: 'prod',
          place: 'prod-eu-1',
          subject: 'coredns',
          namespace: 'opvic',
          tags: { env: 'prod' },
          versions: version.versions,
          upstream: version.remoteVersion,
          error: null,
          ...unresolved,
          reportedAt: t0,
          changedAt: t0,
          staleSince: null,
        },
      ],
      next: null,
    });
  });

  it('is idempotent: a repeated report keeps the row and refreshes reported_at only', async () => {
    const drift = store();
    await drift.upsertReport('c1', 'prod', { b: '2', a: '1' }, report('app'), t0);
    // Unchanged within a minute: nothing is written, not even reported_at.
    await drift.upsertReport('c1', 'prod', { a: '1', b: '2' }, report('app'), t0 + minute - 1);
    expect((await drift.list({ limit: 10 })).items[0]).toMatchObject({ reportedAt: t0, changedAt: t0 });
    await drift.upsertReport('c1', 'prod', { a: '1', b: '2' }, report('app'), t0 + minute);
    let [row] = (await drift.list({ limit: 10 })).items;
    expect((await drift.list({ limit: 10 })).items).toHaveLength(1);
    expect(row).toMatchObject({ reportedAt: t0 + minute, changedAt: t0 });
    await drift.upsertReport('c1', 'prod', { a: '1', b: '2' }, report('app', '1.1.0'), t0 + 2 * minute);
    [row] = (await drift.list({ limit: 10 })).items;
    expect(row).toMatchObject({ reportedAt: t0 + 2 * minute, changedAt: t0 + 2 * minute });
    expect(row?.versions.map((v) => v.runningVersion)).toEqual(['1.1.0']);
  });

  it('pages by a stable cursor and filters by environment, place and subject', async () => {
    const drift = store();
    const keys: string[] = [];
    for (const env of ['prod', 'staging'])
      for (const place of ['c1', 'c2', 'c3'])
        for (const subject of ['api', 'db']) {
          await drift.upsertReport(place, env, {}, report(subject), t0);
          keys.push(`${env}/${place}/${subject}`);
        }
    const seen: string[] = [];
    let after: string | undefined;
    let pages = 0;
    do {
      const page = await drift.list({ limit: 5, after });
      seen.push(...page.items.map((r) => `${r.environment}/${r.place}/${r.subject}`));
      // A row added before the cursor's position must not shift later pages.
      if (pages === 0) await drift.upsertReport('a0', 'prod', {}, report('api'), t0);
      after = page.next ?? undefined;
      pages++;
    } while (after);
    expect(seen).toEqual(keys.sort());
    expect(pages).toBe(3);
    const prodDb = await drift.list({ environment: 'prod', subject: 'db', limit: 10 });
    expect(prodDb.items.map((r) => r.place)).toEqual(['c1', 'c2', 'c3']);
    expect((await drift.list({ place: 'c2', limit: 10 })).items).toHaveLength(4);
    await expect(drift.list({ limit: 5, after: 'bogus' })).rejects.toThrow(/cursor/);
  });

  it('finds the places running a subject, optionally one version', async () => {
    const drift = store();
    await drift.upsertReport('c1', 'prod', {}, report('api', '1.0.0'), t0);
    await drift.upsertReport('c2', 'prod', {}, report('api', '2.0.0'), t0);
    await drift.upsertReport(
      'h1',
      'staging',
      {},
      {
        subject: 'api',
        versions: [
          { runningVersion: '1.0.0', resourceCount: 1 },
          { runningVersion: '2.0.0', resourceCount: 2 },
        ],
      },
      t0,
    );
    await drift.upsertReport('c3', 'prod', {}, report('db', '1.0.0'), t0);
    expect((await drift.where('api')).map((r) => r.place)).toEqual(['c1', 'c2', 'h1']);
    const v1 = await drift.where('api', '1.0.0');
    expect(v1.map((r) => r.place)).toEqual(['c1', 'h1']);
    expect(v1[1]?.versions).toEqual([{ runningVersion: '1.0.0', resourceCount: 1 }]);
    expect(await drift.where('api', '3.0.0')).toEqual([]);
  });

  it('marks silent places stale, then removes them; a new report revives a stale row', async () => {
    const drift = store();
    await drift.upsertReport('old', 'prod', {}, report('api'), t0);
    await drift.upsertReport('mid', 'prod', {}, report('api'), t0 + 50 * minute);
    await drift.upsertReport('new', 'prod', {}, report('api'), t0 + 119 * minute);
    const now = t0 + 2 * hour;
    expect(await drift.expire(now, 30 * minute, 90 * minute)).toEqual({ stale: 1, removed: 1 });
    expect(await drift.expire(now, 30 * minute, 90 * minute)).toEqual({ stale: 0, removed: 0 });
    const rows = (await drift.list({ limit: 10 })).items;
    expect(rows.map((r) => [r.place, r.staleSince])).toEqual([
      ['mid', now],
      ['new', null],
    ]);
    await drift.upsertReport('mid', 'prod', {}, report('api'), now + minute);
    expect((await drift.where('api')).find((r) => r.place === 'mid')?.staleSince).toBeNull();
    await expect(drift.expire(now, 0, 1)).rejects.toThrow(/staleAfterMs/);
  });

  it('refuses oversized values with a typed error and stores nothing', async () => {
    const drift = store();
    const tags = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`tag${i}`, 'x'.repeat(200)]));
    const err = await drift.upsertReport('c1', 'prod', tags, report('api'), t0).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DriftTooLarge);
    expect((err as DriftTooLarge).code).toBe('payload_too_large');
    expect((err as Error).message).toMatch(/^tags is \d+ bytes; at most 16384/);
    await expect(drift.upsertReport('x'.repeat(driftLimits.idBytes + 1), 'prod', {}, report('api'))).rejects.toThrow(
      DriftTooLarge,
    );
    expect((await drift.list({ limit: 10 })).items).toEqual([]);
  });

  it('round-trips an upstream state', async () => {
    const states = new DatabaseUpstreamStateStore(handle.current.db);
    expect(await states.get('github:o/r:releases')).toBeUndefined();
    const state: UpstreamState = {
      key: 'github:o/r:releases',
      versions: [
        { version: 'v1.1.0', publishedAt: '2026-02-01T00:00:00Z', url: 'https://example.test/r', prerelease: false },
        { version: '1.24', cycle: '1.24', eol: '2026-07-01' },
      ],
      etag: 'W/"abc"',
      lastModified: 'Sun, 01 Mar 2026 11:00:00 GMT',
      fetchedAt: new Date(t0).toISOString(),
      error: 'upstream answered 503',
      errorAt: new Date(t0 + minute).toISOString(),
      failures: 2,
      retryAt: new Date(t0 + 5 * minute).toISOString(),
      rateLimit: { limit: 60, remaining: 0, resetAt: new Date(t0 + hour).toISOString() },
    };
    await states.put(state);
    expect(await states.get(state.key)).toEqual(state);
    const cleared = { ...state, error: null, errorAt: null, failures: 0, retryAt: null, rateLimit: null };
    await states.put(cleared);
    expect(await states.get(state.key)).toEqual(cleared);
    const empty = { ...cleared, key: 'npm:x', versions: null, etag: null, lastModified: null, fetchedAt: null };
    await states.put(empty);
    expect(await states.get('npm:x')).toEqual(empty);
  });

  replicaTests(handle);
});

/** Two caches over one database stand for two server replicas. */
function replicaTests(handle: ReturnType<typeof useMigratedDatabase>): void {
  let upstream: FakeUpstream;
  const recorded = githubExchanges('release-assets')[0];
  const path = '/repos/o/r/releases?per_page=100';
  beforeEach(async () => {
    upstream = await new FakeUpstream().start();
    if (!recorded) throw new Error('release-assets fixture is empty');
    upstream.answer(path, {
      headers: { etag: String(recorded.headers.etag), 'content-type': 'application/json' },
      body: JSON.stringify([recorded.response]),
    });
  });
  afterEach(async () => {
    await upstream.stop();
  });

  it('makes one upstream fetch per TTL across two replicas', async () => {
    let clock = t0;
    const github = githubProvider({ baseUrl: upstream.origin });
    const ref = { repo: 'o/r', kind: 'releases' as const };
    const replica = () => {
      const cache = new UpstreamCache({ store: new DatabaseUpstreamStateStore(handle.current.db), now: () => clock });
      return () => cache.get(github.key(ref), (state) => github.list(ref, state));
    };
    const [a, b] = [replica(), replica()];
    expect((await a()).versions?.map((v) => v.version)).toEqual(['v1.0.0']);
    expect((await b()).versions?.map((v) => v.version)).toEqual(['v1.0.0']);
    clock += hour - 1;
    await a();
    await b();
    expect(upstream.count(path)).toBe(1);
    clock += 1;
    const revalidated = await b();
    expect(revalidated).toMatchObject({ ageMs: 0, error: null });
    expect(revalidated.versions?.map((v) => v.version)).toEqual(['v1.0.0']);
    expect((await a()).fetchedAt).toBe(new Date(clock).toISOString());
    expect(upstream.count(path)).toBe(2);
    expect(upstream.requests[1]?.headers['if-none-match']).toBe(String(recorded?.headers.etag));
  });
}
