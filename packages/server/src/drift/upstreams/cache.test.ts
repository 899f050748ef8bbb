import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryUpstreamStateStore, UpstreamCache } from './cache.ts';
import { type Answer, FakeUpstream, githubExchanges } from './fake-upstream.test-support.ts';
import { githubProvider } from './github.ts';

const recorded = githubExchanges('release-assets')[0];
if (!recorded) throw new Error('release-assets fixture is empty');
const etag = String(recorded.headers.etag);
const releasesPath = '/repos/o/r/releases?per_page=100';
const hour = 60 * 60 * 1000;

describe('UpstreamCache', () => {
  let upstream: FakeUpstream;
  let clock: number;
  let answer: Answer;
  const ref = { repo: 'o/r', kind: 'releases' as const };

  beforeEach(async () => {
    upstream = await new FakeUpstream().start();
    clock = Date.now();
    answer = { headers: { etag, 'content-type': 'application/json' }, body: JSON.stringify([recorded.response]) };
    // Answers after a short delay so that concurrent callers overlap one request.
    upstream.route(releasesPath, (request, response) => {
      setTimeout(() => {
        const current = answer;
        const currentEtag = current.headers?.etag;
        if (current.status === undefined && currentEtag && request.headers['if-none-match'] === currentEtag) {
          response.writeHead(304, { etag: String(currentEtag) }).end();
          return;
        }
        response.writeHead(current.status ?? 200, current.headers as Record<string, string>).end(current.body ?? '');
      }, 50);
      return undefined;
    });
  });
  afterEach(async () => {
    await upstream.stop();
  });

  function setup(store = new MemoryUpstreamStateStore()) {
    const github = githubProvider({ baseUrl: upstream.origin });
    const cache = new UpstreamCache({ store, now: () => clock });
    return { store, get: () => cache.get(github.key(ref), (state) => github.list(ref, state)) };
  }

  it('makes one request for 100 concurrent callers of one key', async () => {
    const { get } = setup();
    const entries = await Promise.all(Array.from({ length: 100 }, () => get()));
    expect(upstream.count(releasesPath)).toBe(1);
    for (const entry of entries) expect(entry.versions?.map((version) => version.version)).toEqual(['v1.0.0']);
    await get();
    expect(upstream.count(releasesPath)).toBe(1);
  });

  it('revalidates after the TTL with one conditional request; 304 keeps the list with a new fetch time', async () => {
    const { get, store } = setup();
    const first = await get();
    clock += hour - 1;
    expect((await get()).ageMs).toBe(hour - 1);
    expect(upstream.count(releasesPath)).toBe(1);
    clock += 1;
    const entries = await Promise.all(Array.from({ length: 20 }, () => get()));
    expect(upstream.count(releasesPath)).toBe(2);
    expect(upstream.requests[1]?.headers['if-none-match']).toBe(etag);
    expect(entries[0]?.versions).toEqual(first.versions);
    expect(entries[0]).toMatchObject({ ageMs: 0, error: null, fetchedAt: new Date(clock).toISOString() });
    expect((await store.get(entries[0]?.key ?? ''))?.etag).toBe(etag);
  });

  it('keeps the last good list with the error and its age when a fetch fails, and backs off', async () => {
    const { get } = setup();
    const good = await get();
    clock += hour + 5_000;
    answer = {
      status: 503,
      headers: { 'content-type': 'application/json' },
      body: '{"message":"Service Unavailable"}',
    };
    const failed = await get();
    expect(failed.versions).toEqual(good.versions);
    expect(failed.error).toContain('HTTP 503');
    expect(failed).toMatchObject({
      errorAt: new Date(clock).toISOString(),
      ageMs: hour + 5_000,
      fetchedAt: good.fetchedAt,
    });
    // Within the backoff (1 min at first) no request is sent; after it, one is.
    clock += 30_000;
    expect((await get()).error).toContain('HTTP 503');
    expect(upstream.count(releasesPath)).toBe(2);
    clock += 30_000;
    answer = {
      headers: { etag: '"v2"' },
      body: JSON.stringify([{ ...(recorded.response as object), tag_name: 'v2.0.0' }]),
    };
    const recovered = await get();
    expect(upstream.count(releasesPath)).toBe(3);
    expect(recovered).toMatchObject({ error: null, errorAt: null, ageMs: 0 });
    expect(recovered.versions?.map((version) => version.version)).toEqual(['v2.0.0']);
  });

  it('waits for Retry-After and for the quota reset before asking again', async () => {
    const { get } = setup();
    answer = { status: 429, headers: { 'retry-after': '600' }, body: '' };
    const limited = await get();
    expect(limited).toMatchObject({ versions: null });
    expect(limited.error).toContain('rate limited');
    clock += 5 * 60 * 1000;
    await get();
    expect(upstream.count(releasesPath)).toBe(1);
    clock += 6 * 60 * 1000;
    const reset = Math.floor((clock + 30 * 60 * 1000) / 1000);
    answer = { status: 403, headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset) }, body: '{}' };
    const exhausted = await get();
    expect(upstream.count(releasesPath)).toBe(2);
    expect(exhausted.rateLimit).toMatchObject({ remaining: 0 });
    clock += 20 * 60 * 1000;
    await get();
    expect(upstream.count(releasesPath)).toBe(2);
    clock += 11 * 60 * 1000;
    answer = { headers: { etag }, body: JSON.stringify([recorded.response]) };
    expect((await get()).versions).toHaveLength(1);
    expect(upstream.count(releasesPath)).toBe(3);
  });

  it('shares state through the store: a second cache on it does not fetch within the TTL', async () => {
    const store = new MemoryUpstreamStateStore();
    await setup(store).get();
    const other = await setup(store).get();
    expect(other.versions).toHaveLength(1);
    expect(upstream.count(releasesPath)).toBe(1);
  });
});
