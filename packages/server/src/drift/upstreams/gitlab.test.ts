import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeUpstream } from './fake-upstream.test-support.ts';
import { gitlabProvider } from './gitlab.ts';

// No GitLab answer was recorded: these follow the GitLab REST API (v4) release and tag shapes.
describe('gitlabProvider', () => {
  let gitlab: FakeUpstream;
  const releases = '/api/v4/projects/group%2Fsub%2Fapp/releases?per_page=100';
  const page2 = '/api/v4/projects/42/releases?page=2&per_page=100';
  beforeEach(async () => {
    gitlab = await new FakeUpstream().start();
    gitlab.answer(releases, {
      headers: { etag: 'W/"g1"', link: `<${gitlab.origin}${page2}>; rel="next"`, 'ratelimit-remaining': '1999' },
      body: JSON.stringify([
        {
          tag_name: 'v2.0.0',
          released_at: '2026-12-31T00:00:00Z',
          upcoming_release: true,
          _links: { self: 'https://gl/r/v2' },
        },
        { tag_name: 'v1.1.0', released_at: '2026-01-01T00:00:00Z', upcoming_release: false },
      ]),
    });
    gitlab.answer(page2, { body: JSON.stringify([{ tag_name: 'v1.0.0', released_at: '2025-01-01T00:00:00Z' }]) });
    gitlab.answer('/api/v4/projects/group%2Fapp/repository/tags?per_page=100', {
      body: JSON.stringify([{ name: 'v3.1', commit: { created_at: '2026-02-02T00:00:00Z' } }, { name: '' }]),
    });
  });
  afterEach(async () => {
    await gitlab.stop();
  });

  it('pages releases, flags upcoming ones, and lists tags', async () => {
    const provider = gitlabProvider({ baseUrl: gitlab.origin, token: 'glpat' });
    const result = await provider.list({ project: 'group/sub/app', kind: 'releases' }, {});
    expect(result).toMatchObject({
      etag: 'W/"g1"',
      rateLimit: { remaining: 1999 },
      versions: [
        { version: 'v2.0.0', prerelease: true, url: 'https://gl/r/v2' },
        { version: 'v1.1.0', prerelease: false, publishedAt: '2026-01-01T00:00:00Z' },
        { version: 'v1.0.0', prerelease: false },
      ],
    });
    expect(gitlab.requests.map((request) => request.path)).toEqual([releases, page2]);
    expect(gitlab.requests[0]?.headers.authorization).toBe('Bearer glpat');
    const tags = await provider.list({ project: 'group/app', kind: 'tags' }, {});
    expect(tags).toMatchObject({ versions: [{ version: 'v3.1', publishedAt: '2026-02-02T00:00:00Z' }] });
    expect(await provider.list({ project: 'group/sub/app', kind: 'releases' }, { etag: 'W/"g1"' })).toMatchObject({
      notModified: true,
    });
  });

  it('refuses a project path that is not one', async () => {
    const provider = gitlabProvider({ baseUrl: gitlab.origin });
    await expect(provider.list({ project: 'group/../admin', kind: 'tags' }, {})).rejects.toMatchObject({
      kind: 'unsupported',
    });
    await expect(provider.list({ project: 'single', kind: 'tags' }, {})).rejects.toMatchObject({ kind: 'unsupported' });
  });
});
