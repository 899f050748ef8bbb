import { parse } from 'yaml';
import { defaultTimeoutMs, UpstreamError, upstreamGet } from './fetcher.ts';
import type { ConditionalState, FetchLimits, ListResult, UpstreamProvider, UpstreamVersion } from './types.ts';

export interface HelmRef {
  /** The HTTP repository, e.g. `https://charts.example.com/stable` (its `index.yaml` is read). */
  repo: string;
  chart: string;
  strategy: 'chartVersion' | 'appVersion';
  skipDeprecated?: boolean;
}

export type HelmOptions = FetchLimits;

const prereleasePattern = /^v?\d+(\.\d+)*-/;

export function helmProvider(options: HelmOptions = {}): UpstreamProvider<HelmRef> {
  // Large public repositories publish index files of several MiB.
  const limits = {
    maxBytes: options.maxBytes ?? 16 * 1024 * 1024,
    timeoutMs: options.timeoutMs ?? defaultTimeoutMs,
    guard: options.guard,
  };
  return {
    key: (ref) => `helm:${indexUrl(ref.repo)}#${ref.chart}/${ref.strategy}${ref.skipDeprecated ? '/current' : ''}`,
    async list(ref: HelmRef, state: ConditionalState): Promise<ListResult> {
      const url = indexUrl(ref.repo);
      const answer = await upstreamGet(url, { ...limits, ...state, expect: 'yaml' });
      const rateLimit = answer.rateLimit ? { rateLimit: answer.rateLimit } : {};
      const validators = {
        ...(answer.etag ? { etag: answer.etag } : {}),
        ...(answer.lastModified ? { lastModified: answer.lastModified } : {}),
      };
      if (answer.status === 'not-modified') return { notModified: true, ...validators, ...rateLimit };
      return { versions: chartVersions(url, answer.body, ref), ...validators, ...rateLimit };
    },
  };
}

function indexUrl(repo: string): string {
  if (repo.startsWith('oci://')) {
    throw new UpstreamError('unsupported', repo, 'charts in OCI registries are read by the helm-oci provider');
  }
  const base = new URL(repo.endsWith('/') ? repo : `${repo}/`);
  return new URL('index.yaml', base).href;
}

/** Reads one chart's versions; the failsafe schema keeps `1.10` a string, as Helm reads it. */
export function chartVersions(url: string, text: string, ref: HelmRef): UpstreamVersion[] {
  let index: unknown;
  try {
    index = parse(text, { schema: 'failsafe', maxAliasCount: 20, uniqueKeys: false });
  } catch (error) {
    throw new UpstreamError(
      'invalid-body',
      url,
      `index is not valid YAML (${(error as Error).message.split('\n')[0]})`,
    );
  }
  const entries = (index as { entries?: unknown } | null)?.entries;
  if (typeof entries !== 'object' || entries === null || Array.isArray(entries)) {
    throw new UpstreamError('invalid-body', url, 'index has no "entries" map');
  }
  const chart = (entries as Record<string, unknown>)[ref.chart];
  if (!Array.isArray(chart)) throw new UpstreamError('not-found', url, `chart "${ref.chart}" is not in the index`);
  const versions: UpstreamVersion[] = [];
  const seen = new Set<string>();
  for (const item of chart) {
    if (typeof item !== 'object' || item === null) continue;
    const entry = item as Record<string, unknown>;
    if (ref.skipDeprecated && entry.deprecated === 'true') continue;
    const value = ref.strategy === 'chartVersion' ? entry.version : entry.appVersion;
    // Old entries have no appVersion; many chart versions share one appVersion (the first, newest, wins).
    if (typeof value !== 'string' || value === '' || seen.has(value)) continue;
    seen.add(value);
    const version: UpstreamVersion = { version: value, prerelease: prereleasePattern.test(value) };
    if (entry.deprecated === 'true') version.deprecated = true;
    if (typeof entry.created === 'string') version.publishedAt = entry.created;
    const first = Array.isArray(entry.urls) ? entry.urls[0] : undefined;
    if (typeof first === 'string') version.url = new URL(first, url).href;
    versions.push(version);
  }
  return versions;
}
