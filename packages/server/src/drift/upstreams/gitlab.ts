import { defaultTimeoutMs, UpstreamError } from './fetcher.ts';
import { listPaged } from './paged-list.ts';
import type { ConditionalState, FetchLimits, ListResult, UpstreamProvider, UpstreamVersion } from './types.ts';

export interface GitlabRef {
  /** The project path, `group/subgroup/project`. */
  project: string;
  kind: 'releases' | 'tags';
}

export interface GitlabOptions extends FetchLimits {
  /** `https://gitlab.com` by default; a self-managed instance otherwise. */
  baseUrl?: string;
  token?: string;
  maxPages?: number;
}

const projectPattern = /^[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+)+$/;

export function gitlabProvider(options: GitlabOptions = {}): UpstreamProvider<GitlabRef> {
  const baseUrl = (options.baseUrl ?? 'https://gitlab.com').replace(/\/+$/, '');
  const maxPages = options.maxPages ?? 10;
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const limits = { maxBytes: options.maxBytes ?? 5 * 1024 * 1024, timeoutMs: options.timeoutMs ?? defaultTimeoutMs };
  return {
    key: (ref) => `gitlab:${new URL(baseUrl).host}/${ref.project.toLowerCase()}/${ref.kind}`,
    async list(ref: GitlabRef, state: ConditionalState): Promise<ListResult> {
      if (!projectPattern.test(ref.project) || ref.project.split('/').some((part) => part === '..' || part === '.')) {
        throw new UpstreamError('unsupported', baseUrl, `project "${ref.project}" is not a project path`);
      }
      const path = ref.kind === 'releases' ? 'releases' : 'repository/tags';
      return listPaged(`${baseUrl}/api/v4/projects/${encodeURIComponent(ref.project)}/${path}?per_page=100`, state, {
        ...limits,
        headers,
        maxPages,
        toVersion: ref.kind === 'releases' ? fromRelease : fromTag,
      });
    },
  };
}

/** An upcoming release (dated in the future) is flagged like a prerelease. */
function fromRelease(item: unknown): UpstreamVersion | undefined {
  if (typeof item !== 'object' || item === null) return undefined;
  const release = item as Record<string, unknown>;
  if (typeof release.tag_name !== 'string' || release.tag_name === '') return undefined;
  const version: UpstreamVersion = { version: release.tag_name, prerelease: release.upcoming_release === true };
  if (typeof release.released_at === 'string') version.publishedAt = release.released_at;
  const links = release._links as Record<string, unknown> | undefined;
  if (typeof links?.self === 'string') version.url = links.self;
  return version;
}

function fromTag(item: unknown): UpstreamVersion | undefined {
  if (typeof item !== 'object' || item === null) return undefined;
  const tag = item as Record<string, unknown>;
  if (typeof tag.name !== 'string' || tag.name === '') return undefined;
  const version: UpstreamVersion = { version: tag.name };
  const commit = tag.commit as Record<string, unknown> | undefined;
  if (typeof commit?.created_at === 'string') version.publishedAt = commit.created_at;
  return version;
}
