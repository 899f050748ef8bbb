import { defaultTimeoutMs, parseJsonBody, UpstreamError, upstreamGet } from './fetcher.ts';
import type { ConditionalState, FetchLimits, ListResult, UpstreamProvider, UpstreamVersion } from './types.ts';

export interface EndOfLifeRef {
  /** The endoflife.date product, e.g. `eks`, `kubernetes`, `nginx`. */
  product: string;
}

export interface EndOfLifeOptions extends FetchLimits {
  /** `https://endoflife.date` by default (a mirror or a local server in tests). */
  baseUrl?: string;
}

const productPattern = /^[a-z0-9][a-z0-9._-]*$/i;

/** One version per release cycle: its latest release, with the cycle's end of life. */
export function endOfLifeProvider(options: EndOfLifeOptions = {}): UpstreamProvider<EndOfLifeRef> {
  const baseUrl = (options.baseUrl ?? 'https://endoflife.date').replace(/\/+$/, '');
  const limits = { maxBytes: options.maxBytes ?? 5 * 1024 * 1024, timeoutMs: options.timeoutMs ?? defaultTimeoutMs };
  return {
    key: (ref) => `endoflife:${new URL(baseUrl).host}/${ref.product.toLowerCase()}`,
    async list(ref: EndOfLifeRef, state: ConditionalState): Promise<ListResult> {
      if (!productPattern.test(ref.product)) {
        throw new UpstreamError('unsupported', baseUrl, `product "${ref.product}" is not a product name`);
      }
      const url = `${baseUrl}/api/${ref.product.toLowerCase()}.json`;
      const answer = await upstreamGet(url, {
        ...limits,
        ...state,
        headers: { accept: 'application/json' },
        expect: 'json',
      });
      const extra = {
        ...(answer.etag ? { etag: answer.etag } : {}),
        ...(answer.lastModified ? { lastModified: answer.lastModified } : {}),
        ...(answer.rateLimit ? { rateLimit: answer.rateLimit } : {}),
      };
      if (answer.status === 'not-modified') return { notModified: true, ...extra };
      const cycles = parseJsonBody(url, answer.body);
      if (!Array.isArray(cycles)) throw new UpstreamError('invalid-body', url, 'answer is not a JSON array of cycles');
      return { versions: cycles.flatMap((cycle) => fromCycle(cycle)), ...extra };
    },
  };
}

function fromCycle(item: unknown): UpstreamVersion[] {
  if (typeof item !== 'object' || item === null) return [];
  const cycle = item as Record<string, unknown>;
  const name = scalar(cycle.cycle);
  if (name === undefined) return [];
  const version: UpstreamVersion = { version: scalar(cycle.latest) ?? name, cycle: name };
  if (typeof cycle.eol === 'string' || typeof cycle.eol === 'boolean') version.eol = cycle.eol;
  const published = cycle.latestReleaseDate ?? cycle.releaseDate;
  if (typeof published === 'string') version.publishedAt = published;
  if (typeof cycle.link === 'string') version.url = cycle.link;
  return [version];
}

/** Cycles are strings, but some products publish them as numbers (`"cycle": 8`). */
function scalar(value: unknown): string | undefined {
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}
