import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeUpstream, githubExchanges } from './fake-upstream.test-support.ts';
import { nextLink, parseJsonBody, sameOriginNext, UpstreamError, upstreamGet } from './fetcher.ts';

const options = { maxBytes: 1024 * 1024, timeoutMs: 5_000, expect: 'json' as const };

async function failure(promise: Promise<unknown>): Promise<UpstreamError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(UpstreamError);
  return error as UpstreamError;
}

describe('upstreamGet', () => {
  let upstream: FakeUpstream;
  beforeEach(async () => {
    upstream = await new FakeUpstream().start();
  });
  afterEach(async () => {
    await upstream.stop();
  });

  it('follows the recorded Link paging to its last page and reads the rate-limit headers', async () => {
    for (const exchange of githubExchanges('paginate-issues')) upstream.exchange(exchange);
    let url: string | undefined = `${upstream.origin}/repos/octokit-fixture-org/paginate-issues/issues?per_page=3`;
    const numbers: number[] = [];
    let last: Awaited<ReturnType<typeof upstreamGet>> | undefined;
    while (url !== undefined) {
      last = await upstreamGet(url, options);
      if (last.status !== 'ok') throw new Error('expected a body');
      numbers.push(...(parseJsonBody(url, last.body) as { number: number }[]).map((issue) => issue.number));
      url = sameOriginNext(url, last.link);
    }
    expect(upstream.requests).toHaveLength(5);
    expect(numbers).toEqual([13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
    expect(last?.rateLimit).toEqual({ limit: 5000, remaining: 4999, resetAt: '2017-10-10T16:00:00.000Z' });
    expect(last?.etag).toBe('"00000000000000000000000000000000"');
  });

  it('sends the stored ETag and Last-Modified and reports 304 as not-modified', async () => {
    const [exchange] = githubExchanges('get-repository');
    if (!exchange) throw new Error('fixture is empty');
    upstream.exchange(exchange);
    const url = `${upstream.origin}${exchange.path}`;
    const first = await upstreamGet(url, options);
    expect(first.status).toBe('ok');
    const second = await upstreamGet(url, { ...options, etag: first.etag, lastModified: first.lastModified });
    expect(second).toMatchObject({ status: 'not-modified', etag: first.etag });
    expect(upstream.requests[1]?.headers['if-none-match']).toBe(first.etag);
    expect(upstream.requests[1]?.headers['if-modified-since']).toBe(first.lastModified);
  });

  it('turns a recorded 4xx error body into an http UpstreamError with its message', async () => {
    const [exchange] = githubExchanges('errors');
    if (!exchange) throw new Error('fixture is empty');
    upstream.exchange(exchange);
    const error = await failure(upstreamGet(`${upstream.origin}${exchange.path}`, options));
    expect(error).toMatchObject({ kind: 'http', status: 422 });
    expect(error.message).toContain('Validation Failed');
  });

  it('classifies 5xx, 404, an exhausted quota and 429 with Retry-After', async () => {
    upstream.answer('/5xx', {
      status: 502,
      headers: { 'content-type': 'text/html' },
      body: '<html>bad gateway</html>',
    });
    upstream.answer('/quota', {
      status: 403,
      headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '1900000000' },
      body: '{"message":"API rate limit exceeded"}',
    });
    upstream.answer('/slow-down', { status: 429, headers: { 'retry-after': '120' }, body: '' });
    expect(await failure(upstreamGet(`${upstream.origin}/5xx`, options))).toMatchObject({ kind: 'http', status: 502 });
    expect(await failure(upstreamGet(`${upstream.origin}/missing`, options))).toMatchObject({ kind: 'not-found' });
    const quota = await failure(upstreamGet(`${upstream.origin}/quota`, options));
    expect(quota).toMatchObject({ kind: 'rate-limited', status: 403 });
    expect(quota.rateLimit).toEqual({ remaining: 0, resetAt: new Date(1900000000 * 1000).toISOString() });
    const before = Date.now();
    const limited = await failure(upstreamGet(`${upstream.origin}/slow-down`, options));
    expect(limited.kind).toBe('rate-limited');
    const retryAt = Date.parse(limited.rateLimit?.retryAt ?? '');
    expect(retryAt).toBeGreaterThanOrEqual(before + 119_000);
    expect(retryAt).toBeLessThanOrEqual(Date.now() + 120_000);
  });

  it('refuses an HTML answer where JSON or YAML is expected', async () => {
    upstream.answer('/login', { headers: { 'content-type': 'text/html; charset=utf-8' }, body: '<p>sign in</p>' });
    upstream.answer('/portal', {
      headers: { 'content-type': 'application/octet-stream' },
      body: '\n<!DOCTYPE html><html>',
    });
    expect(await failure(upstreamGet(`${upstream.origin}/login`, options))).toMatchObject({ kind: 'invalid-body' });
    const yaml = await failure(upstreamGet(`${upstream.origin}/portal`, { ...options, expect: 'yaml' }));
    expect(yaml.message).toContain('HTML where YAML was expected');
  });

  it('refuses a declared oversize body before reading it', async () => {
    upstream.answer('/declared', { headers: { 'content-length': '2048' }, body: Buffer.alloc(2048, 0x20) });
    const error = await failure(upstreamGet(`${upstream.origin}/declared`, { ...options, maxBytes: 1024 }));
    expect(error).toMatchObject({ kind: 'too-large' });
  });

  it('aborts a streamed body at the cap instead of reading it all', async () => {
    let written = 0;
    let closedEarly = false;
    upstream.route('/endless', (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const timer = setInterval(() => {
        if (written >= 64 * 1024 * 1024) {
          clearInterval(timer);
          response.end();
          return;
        }
        written += chunk.byteLength;
        response.write(chunk);
      }, 1);
      response.on('close', () => {
        closedEarly = !response.writableFinished;
        clearInterval(timer);
      });
      return undefined;
    });
    const error = await failure(upstreamGet(`${upstream.origin}/endless`, { ...options, maxBytes: 256 * 1024 }));
    expect(error.kind).toBe('too-large');
    await expect.poll(() => closedEarly).toBe(true);
    expect(written).toBeLessThan(64 * 1024 * 1024);
  });

  it('gives up after the timeout and reports an unreachable upstream as a network error', async () => {
    upstream.route('/stall', () => undefined);
    const stalled = await failure(upstreamGet(`${upstream.origin}/stall`, { ...options, timeoutMs: 200 }));
    expect(stalled.kind).toBe('timeout');
    const closed = await new FakeUpstream().start();
    const origin = closed.origin;
    await closed.stop();
    expect(await failure(upstreamGet(`${origin}/`, options))).toMatchObject({ kind: 'network' });
  });

  it('refuses other schemes and next pages on another origin', async () => {
    expect(await failure(upstreamGet('file:///etc/passwd', options))).toMatchObject({ kind: 'unsupported' });
    expect(() => sameOriginNext('https://api.github.com/a', '<https://evil.example/b>; rel="next"')).toThrow(
      UpstreamError,
    );
    expect(nextLink('<https://x/2>; rel="prev", <https://x/3>; rel="next"')).toBe('https://x/3');
    expect(nextLink('<https://x/1>; rel="first"')).toBeUndefined();
  });
});
