import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeUpstream, githubExchanges } from './fake-upstream.test-support.ts';
import { UpstreamError } from './fetcher.ts';
import { githubProvider } from './github.ts';

/** The recorded release and its headers; pages of variants are built from it (drafts, prereleases). */
const recorded = githubExchanges('release-assets')[0];
if (!recorded) throw new Error('release-assets fixture is empty');
const release = recorded.response as Record<string, unknown>;
const headers = { ...recorded.headers };
delete headers['content-length'];

function variant(tag: string, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...release, tag_name: tag, name: tag, html_url: `https://github.com/o/r/releases/tag/${tag}`, ...fields };
}

describe('githubProvider', () => {
  let upstream: FakeUpstream;
  beforeEach(async () => {
    upstream = await new FakeUpstream().start();
  });
  afterEach(async () => {
    await upstream.stop();
  });

  function serveReleases(pages: Record<string, unknown>[][], prefix = ''): string[] {
    const paths = pages.map((_, index) =>
      index === 0
        ? `${prefix}/repos/o/r/releases?per_page=100`
        : `${prefix}/repositories/1000/releases?per_page=100&page=${index + 1}`,
    );
    pages.forEach((page, index) => {
      const next = paths[index + 1];
      const link: Record<string, string> = next ? { link: `<${upstream.origin}${next}>; rel="next"` } : {};
      upstream.answer(paths[index] ?? '', { headers: { ...headers, ...link }, body: JSON.stringify(page) });
    });
    return paths;
  }

  it('pages releases through Link, never offers drafts and flags prereleases', async () => {
    const paths = serveReleases([
      [variant('v1.2.0-rc.1', { prerelease: true }), variant('v1.1.0', { draft: true }), release],
      [variant('v0.9.0', { published_at: null }), variant('', {})],
    ]);
    const github = githubProvider({ baseUrl: upstream.origin, token: 'secret-token' });
    const result = await github.list({ repo: 'o/r', kind: 'releases' }, {});
    if (result.notModified) throw new Error('expected a list');
    expect(result.versions).toEqual([
      {
        version: 'v1.2.0-rc.1',
        prerelease: true,
        publishedAt: '2017-10-10T16:00:00Z',
        url: 'https://github.com/o/r/releases/tag/v1.2.0-rc.1',
      },
      {
        version: 'v1.0.0',
        prerelease: false,
        publishedAt: '2017-10-10T16:00:00Z',
        url: 'https://github.com/octokit-fixture-org/release-assets/releases/tag/v1.0.0',
      },
      {
        version: 'v0.9.0',
        prerelease: false,
        publishedAt: '2017-10-10T16:00:00Z',
        url: 'https://github.com/o/r/releases/tag/v0.9.0',
      },
    ]);
    expect(upstream.requests.map((request) => request.path)).toEqual(paths);
    const first = upstream.requests[0]?.headers;
    expect(first?.authorization).toBe('Bearer secret-token');
    expect(first?.accept).toBe('application/vnd.github+json');
    expect(result).toMatchObject({
      etag: '"00000000000000000000000000000000"',
      rateLimit: { limit: 5000, remaining: 4999 },
    });
  });

  it('stops at maxPages and honours a GitHub Enterprise base path', async () => {
    serveReleases([[variant('v3')], [variant('v2')], [variant('v1')]], '/api/v3');
    const github = githubProvider({ baseUrl: `${upstream.origin}/api/v3/`, maxPages: 2 });
    const result = await github.list({ repo: 'o/r', kind: 'releases' }, {});
    expect(result.notModified ? [] : result.versions.map((version) => version.version)).toEqual(['v3', 'v2']);
    expect(upstream.requests).toHaveLength(2);
    expect(upstream.requests[0]?.headers.authorization).toBeUndefined();
  });

  it('answers not-modified on a conditional request, with one request', async () => {
    serveReleases([[release]]);
    const github = githubProvider({ baseUrl: upstream.origin });
    const result = await github.list({ repo: 'o/r', kind: 'releases' }, { etag: '"00000000000000000000000000000000"' });
    expect(result).toMatchObject({ notModified: true, etag: '"00000000000000000000000000000000"' });
    expect(upstream.requests).toHaveLength(1);
    expect(upstream.requests[0]?.headers['if-none-match']).toBe('"00000000000000000000000000000000"');
  });

  it('reads tags from git refs and ignores branches', async () => {
    const refs = githubExchanges('git-refs').filter((exchange) => exchange.method === 'get');
    const all = refs.at(-1);
    if (!all) throw new Error('git-refs fixture has no listing');
    // The recorded listing holds only branches: none of them is a tag.
    upstream.exchange(all, '/repos/octokit-fixture-org/git-refs/git/refs/tags?per_page=100');
    const github = githubProvider({ baseUrl: upstream.origin });
    const branches = await github.list({ repo: 'octokit-fixture-org/git-refs', kind: 'tags' }, {});
    expect(branches).toMatchObject({ versions: [], etag: '"00000000000000000000000000000000"' });

    const [ref] = all.response as Record<string, unknown>[];
    const tags = ['refs/tags/v2.0.0', 'refs/tags/v1.9.1', 'refs/heads/v9'].map((name) => ({ ...ref, ref: name }));
    upstream.answer('/repos/o/r/git/refs/tags?per_page=100', { headers, body: JSON.stringify(tags) });
    const result = await github.list({ repo: 'o/r', kind: 'tags' }, {});
    expect(result).toMatchObject({ versions: [{ version: 'v2.0.0' }, { version: 'v1.9.1' }] });
  });

  it('gives typed errors for a missing repository, a bad name and a non-array answer', async () => {
    const github = githubProvider({ baseUrl: upstream.origin });
    await expect(github.list({ repo: 'o/missing', kind: 'releases' }, {})).rejects.toMatchObject({ kind: 'not-found' });
    await expect(github.list({ repo: '../../admin', kind: 'tags' }, {})).rejects.toBeInstanceOf(UpstreamError);
    upstream.answer('/repos/o/object/releases?per_page=100', { headers, body: JSON.stringify(release) });
    await expect(github.list({ repo: 'o/object', kind: 'releases' }, {})).rejects.toMatchObject({
      kind: 'invalid-body',
    });
    expect(github.key({ repo: 'O/R', kind: 'tags' })).toBe(`github:${new URL(upstream.origin).host}/o/r/tags`);
  });
});
