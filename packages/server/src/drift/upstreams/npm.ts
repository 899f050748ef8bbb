import { defaultTimeoutMs, parseJsonBody, UpstreamError, upstreamGet } from './fetcher.ts';
import type { ConditionalState, FetchLimits, ListResult, UpstreamProvider, UpstreamVersion } from './types.ts';

export interface NpmRef {
  /** `express`, `@scope/name`. */
  name: string;
}

export interface NpmOptions extends FetchLimits {
  /** `https://registry.npmjs.org` by default (a mirror or a private registry otherwise). */
  registryUrl?: string;
  token?: string;
}

const namePattern = /^(?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/;

/** Versions of an npm package from its abbreviated document (much smaller than the full one). */
export function npmProvider(options: NpmOptions = {}): UpstreamProvider<NpmRef> {
  const registry = (options.registryUrl ?? 'https://registry.npmjs.org').replace(/\/+$/, '');
  const limits = { maxBytes: options.maxBytes ?? 16 * 1024 * 1024, timeoutMs: options.timeoutMs ?? defaultTimeoutMs };
  const headers: Record<string, string> = {
    accept: 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8',
  };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  return {
    key: (ref) => `npm:${new URL(registry).host}/${ref.name.toLowerCase()}`,
    async list(ref: NpmRef, state: ConditionalState): Promise<ListResult> {
      const name = ref.name.toLowerCase();
      if (!namePattern.test(name))
        throw new UpstreamError('unsupported', registry, `"${ref.name}" is not a package name`);
      const url = `${registry}/${name.replace('/', '%2f')}`;
      const answer = await upstreamGet(url, { ...limits, headers, ...state, expect: 'json' });
      const extra = {
        ...(answer.etag ? { etag: answer.etag } : {}),
        ...(answer.lastModified ? { lastModified: answer.lastModified } : {}),
        ...(answer.rateLimit ? { rateLimit: answer.rateLimit } : {}),
      };
      if (answer.status === 'not-modified') return { notModified: true, ...extra };
      const document = parseJsonBody(url, answer.body) as { versions?: unknown; time?: unknown } | null;
      const versions = document?.versions;
      if (typeof versions !== 'object' || versions === null || Array.isArray(versions)) {
        throw new UpstreamError('invalid-body', url, 'document has no "versions" map');
      }
      const times = (typeof document?.time === 'object' && document.time !== null ? document.time : {}) as Record<
        string,
        unknown
      >;
      const list: UpstreamVersion[] = [];
      for (const [version, manifest] of Object.entries(versions)) {
        const entry: UpstreamVersion = { version, prerelease: version.includes('-') };
        // Withdrawn by its authors: flagged so that it is not offered as an upgrade.
        if (typeof manifest === 'object' && manifest !== null && 'deprecated' in manifest) entry.deprecated = true;
        const published = times[version];
        if (typeof published === 'string') entry.publishedAt = published;
        list.push(entry);
      }
      return { versions: list, ...extra };
    },
  };
}
