// A JSON-array listing read page by page (GitHub, GitLab): `Link: rel="next"` on the same origin only,
// at most `maxPages`; only the first page is conditional, since a new release or tag changes it.
import { parseJsonBody, sameOriginNext, UpstreamError, upstreamGet } from './fetcher.ts';
import type { ConditionalState, ListResult, RateLimit, UpstreamVersion } from './types.ts';

export interface PagedListOptions {
  headers: Record<string, string>;
  maxBytes: number;
  timeoutMs: number;
  maxPages: number;
  /** One item of a page as a version, or undefined to skip it (a draft, a branch). */
  toVersion(item: unknown): UpstreamVersion | undefined;
}

export async function listPaged(
  firstUrl: string,
  state: ConditionalState,
  opts: PagedListOptions,
): Promise<ListResult> {
  const { toVersion, maxPages, ...get } = opts;
  let url: string | undefined = firstUrl;
  const versions: UpstreamVersion[] = [];
  let first: { etag?: string; lastModified?: string } = {};
  let rateLimit: RateLimit | undefined;
  for (let page = 0; url !== undefined && page < maxPages; page++) {
    const answer = await upstreamGet(url, { ...get, ...(page === 0 ? state : {}), expect: 'json' });
    rateLimit = answer.rateLimit ?? rateLimit;
    const validators = {
      ...(answer.etag ? { etag: answer.etag } : {}),
      ...(answer.lastModified ? { lastModified: answer.lastModified } : {}),
    };
    if (answer.status === 'not-modified')
      return { notModified: true, ...validators, ...(rateLimit ? { rateLimit } : {}) };
    if (page === 0) first = validators;
    const items = parseJsonBody(url, answer.body);
    if (!Array.isArray(items)) throw new UpstreamError('invalid-body', url, 'answer is not a JSON array');
    for (const item of items) {
      const version = toVersion(item);
      if (version) versions.push(version);
    }
    url = sameOriginNext(url, answer.link);
  }
  return { versions, ...first, ...(rateLimit ? { rateLimit } : {}) };
}
