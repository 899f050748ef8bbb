import { defaultTimeoutMs, UpstreamError } from './fetcher.ts';
import { listPaged } from './paged-list.ts';
import type { ConditionalState, FetchLimits, ListResult, UpstreamProvider, UpstreamVersion } from './types.ts';

export interface GithubRef {
  /** `owner/name`. */
  repo: string;
  kind: 'releases' | 'tags';
}

export interface GithubOptions extends FetchLimits {
  /** `https://api.github.com` by default; GitHub Enterprise: `https://ghe.example.com/api/v3`. */
  baseUrl?: string;
  /** Lifts the quota from 60 to 5,000 requests an hour. */
  token?: string;
  /** Pages of 100 read at most; newest come first, so older releases past them are dropped. */
  maxPages?: number;
}

const repoPattern = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;

export function githubProvider(options: GithubOptions = {}): UpstreamProvider<GithubRef> {
  const baseUrl = (options.baseUrl ?? 'https://api.github.com').replace(/\/+$/, '');
  const maxPages = options.maxPages ?? 10;
  const headers: Record<string, string> = {
    accept: 'application/vnd.github+json',
    'x-github-api-version': '2022-11-28',
  };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const limits = { maxBytes: options.maxBytes ?? 5 * 1024 * 1024, timeoutMs: options.timeoutMs ?? defaultTimeoutMs };

  return {
    key: (ref) => `github:${new URL(baseUrl).host}/${ref.repo.toLowerCase()}/${ref.kind}`,
    async list(ref: GithubRef, state: ConditionalState): Promise<ListResult> {
      if (!repoPattern.test(ref.repo)) {
        throw new UpstreamError('unsupported', baseUrl, `repository "${ref.repo}" is not owner/name`);
      }
      const path = ref.kind === 'releases' ? 'releases' : 'git/refs/tags';
      return listPaged(`${baseUrl}/repos/${ref.repo}/${path}?per_page=100`, state, {
        ...limits,
        headers,
        maxPages,
        toVersion: ref.kind === 'releases' ? fromRelease : fromRef,
      });
    },
  };
}

/** A release's tag is its version; drafts are never offered, prereleases are flagged. */
function fromRelease(item: unknown): UpstreamVersion | undefined {
  if (typeof item !== 'object' || item === null) return undefined;
  const release = item as Record<string, unknown>;
  if (release.draft === true || typeof release.tag_name !== 'string' || release.tag_name === '') return undefined;
  const version: UpstreamVersion = { version: release.tag_name, prerelease: release.prerelease === true };
  const published = release.published_at ?? release.created_at;
  if (typeof published === 'string') version.publishedAt = published;
  if (typeof release.html_url === 'string') version.url = release.html_url;
  return version;
}

/** Only `refs/tags/*` count: a listing of all refs also carries branches. */
function fromRef(item: unknown): UpstreamVersion | undefined {
  if (typeof item !== 'object' || item === null) return undefined;
  const ref = (item as Record<string, unknown>).ref;
  if (typeof ref !== 'string' || !ref.startsWith('refs/tags/') || ref.length === 'refs/tags/'.length) return undefined;
  return { version: ref.slice('refs/tags/'.length) };
}
