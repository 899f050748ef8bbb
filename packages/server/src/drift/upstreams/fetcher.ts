import type { RateLimit } from './types.ts';

/** Why an upstream fetch failed; the cache records it beside the last good list. */
export type UpstreamErrorKind =
  | 'http'
  | 'rate-limited'
  | 'too-large'
  | 'invalid-body'
  | 'timeout'
  | 'network'
  | 'not-found'
  | 'unsupported'
  | 'refused';

export class UpstreamError extends Error {
  readonly kind: UpstreamErrorKind;
  readonly url: string;
  readonly status: number | undefined;
  readonly rateLimit: RateLimit | undefined;
  /** The `WWW-Authenticate` challenge of a 401 (registries name their token service in it). */
  readonly challenge: string | undefined;
  constructor(
    kind: UpstreamErrorKind,
    url: string,
    message: string,
    extra: { status?: number; rateLimit?: RateLimit; challenge?: string } = {},
  ) {
    super(`${url}: ${message}`);
    this.name = 'UpstreamError';
    this.kind = kind;
    this.url = url;
    this.status = extra.status;
    this.rateLimit = extra.rateLimit;
    this.challenge = extra.challenge;
  }
}

/** Checks a URL before it is requested (each redirect too); throws an `UpstreamError` of kind `refused`. */
export type UrlGuard = (url: URL) => Promise<void>;

export interface GetOptions {
  headers?: Record<string, string>;
  /** With a guard, redirects are followed one by one and each target is checked first. */
  guard?: UrlGuard | undefined;
  /** Validators of the list held, sent as If-None-Match / If-Modified-Since. */
  etag?: string | undefined;
  lastModified?: string | undefined;
  /** The body is read up to this many bytes; more aborts the read. */
  maxBytes: number;
  timeoutMs: number;
  /** What the body must be: HTML (a login page, a proxy's error page) where this is expected is refused. */
  expect: 'json' | 'yaml';
}

export type GetResult =
  | { status: 'not-modified'; etag?: string; lastModified?: string; rateLimit?: RateLimit }
  | { status: 'ok'; body: string; etag?: string; lastModified?: string; link?: string; rateLimit?: RateLimit };

export const defaultTimeoutMs = 30_000;
const errorBodyMaxBytes = 64 * 1024;
const maxRedirects = 5;

/** One GET to an upstream: bounded body, timeout, conditional request, rate-limit headers, typed errors. */
export async function upstreamGet(url: string, options: GetOptions): Promise<GetResult> {
  const parsed = new URL(url);
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new UpstreamError('unsupported', url, `scheme ${parsed.protocol} is not http or https`);
  }
  const headers: Record<string, string> = { 'user-agent': 'flotilla-server', ...options.headers };
  if (options.etag) headers['if-none-match'] = options.etag;
  if (options.lastModified) headers['if-modified-since'] = options.lastModified;
  const abort = new AbortController();
  const signal = AbortSignal.any([abort.signal, AbortSignal.timeout(options.timeoutMs)]);
  try {
    const response = await guardedFetch(url, headers, signal, options.guard);
    const rateLimit = parseRateLimit(response.headers);
    const validators = {
      ...optional('etag', response.headers.get('etag')),
      ...optional('lastModified', response.headers.get('last-modified')),
      ...(rateLimit ? { rateLimit } : {}),
    };
    if (response.status === 304) {
      await response.body?.cancel();
      return { status: 'not-modified', ...validators };
    }
    if (!response.ok) {
      const text = await readBounded(response, errorBodyMaxBytes, abort, url, true);
      throw httpError(url, response.status, text, rateLimit, response.headers.get('www-authenticate'));
    }
    const body = await readBounded(response, options.maxBytes, abort, url, false);
    checkNotHtml(url, response.headers.get('content-type'), body, options.expect);
    return { status: 'ok', body, ...validators, ...optional('link', response.headers.get('link')) };
  } catch (error) {
    if (error instanceof UpstreamError) throw error;
    if (signal.aborted && !abort.signal.aborted) {
      throw new UpstreamError('timeout', url, `no complete answer within ${options.timeoutMs} ms`);
    }
    const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
    throw new UpstreamError('network', url, `${error instanceof Error ? error.message : String(error)}${cause}`);
  } finally {
    abort.abort();
  }
}

const redirectStatuses = new Set([301, 302, 303, 307, 308]);

// Unguarded requests go to base URLs the operator configured; guarded ones (URLs from agents) check
// every hop, so a redirect cannot lead to an address the policy refuses.
async function guardedFetch(
  url: string,
  headers: Record<string, string>,
  signal: AbortSignal,
  guard: UrlGuard | undefined,
): Promise<Response> {
  if (!guard) return fetch(url, { headers, signal, redirect: 'follow' });
  let target = new URL(url);
  for (let hop = 0; ; hop++) {
    await guard(target);
    const response = await fetch(target, { headers, signal, redirect: 'manual' });
    const location = response.headers.get('location');
    if (!redirectStatuses.has(response.status) || location === null) return response;
    await response.body?.cancel();
    if (hop >= maxRedirects) throw new UpstreamError('http', url, `more than ${maxRedirects} redirects`);
    const next = new URL(location, target);
    // A credential never follows a redirect to another origin.
    if (next.origin !== target.origin) delete headers.authorization;
    target = next;
  }
}

/** Parses a JSON body, naming the upstream when it is not JSON. */
export function parseJsonBody(url: string, body: string): unknown {
  try {
    return JSON.parse(body);
  } catch (error) {
    throw new UpstreamError('invalid-body', url, `answer is not JSON (${(error as Error).message})`);
  }
}

/** The `rel="next"` target of a Link header, if any. */
export function nextLink(link: string | undefined): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(',')) {
    const match = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (match?.[1] && /\brel="?next"?/.test(match[2] ?? '')) return match[1];
  }
  return undefined;
}

/** Resolves a next-page link, refusing one that leaves the upstream's origin (it would carry the token). */
export function sameOriginNext(base: string, link: string | undefined): string | undefined {
  const next = nextLink(link);
  if (next === undefined) return undefined;
  const resolved = new URL(next, base);
  if (resolved.origin !== new URL(base).origin) {
    throw new UpstreamError('invalid-body', base, `next page ${resolved.origin} is on another origin`);
  }
  return resolved.href;
}

export function parseRateLimit(headers: Headers): RateLimit | undefined {
  const result: RateLimit = {};
  // GitHub writes X-RateLimit-*, GitLab RateLimit-*.
  const read = (name: string) => integer(headers.get(`x-ratelimit-${name}`) ?? headers.get(`ratelimit-${name}`));
  const limit = read('limit');
  const remaining = read('remaining');
  const reset = read('reset');
  if (limit !== undefined) result.limit = limit;
  if (remaining !== undefined) result.remaining = remaining;
  // Epoch seconds; values past 1e12 are already milliseconds (some recorders and proxies write them so).
  if (reset !== undefined) result.resetAt = new Date(reset > 1e12 ? reset : reset * 1000).toISOString();
  const retryAfter = headers.get('retry-after');
  if (retryAfter) {
    const seconds = integer(retryAfter);
    const at = seconds !== undefined ? Date.now() + seconds * 1000 : Date.parse(retryAfter);
    if (Number.isFinite(at)) result.retryAt = new Date(at).toISOString();
  }
  return Object.keys(result).length > 0 ? result : undefined;
}

async function readBounded(
  response: Response,
  maxBytes: number,
  abort: AbortController,
  url: string,
  truncate: boolean,
): Promise<string> {
  const declared = integer(response.headers.get('content-length'));
  if (!truncate && declared !== undefined && declared > maxBytes) {
    abort.abort();
    throw new UpstreamError('too-large', url, `answer of ${declared} bytes is over the ${maxBytes}-byte cap`);
  }
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      abort.abort();
      await reader.cancel().catch(() => undefined);
      if (truncate) {
        chunks.push(value.subarray(0, value.byteLength - (size - maxBytes)));
        break;
      }
      throw new UpstreamError('too-large', url, `answer is over the ${maxBytes}-byte cap`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function httpError(
  url: string,
  status: number,
  text: string,
  rateLimit: RateLimit | undefined,
  challenge: string | null,
): UpstreamError {
  let detail = '';
  try {
    const parsed = JSON.parse(text) as { message?: unknown; errors?: unknown };
    if (typeof parsed.message === 'string') detail = `: ${parsed.message}`;
  } catch {
    // Not JSON (an HTML error page): the status alone is the message.
  }
  const limited =
    status === 429 || (status === 403 && (rateLimit?.remaining === 0 || rateLimit?.retryAt !== undefined));
  const extra = { status, ...(rateLimit ? { rateLimit } : {}), ...(challenge ? { challenge } : {}) };
  if (limited) return new UpstreamError('rate-limited', url, `rate limited (HTTP ${status})${detail}`, extra);
  if (status === 404) return new UpstreamError('not-found', url, `HTTP 404${detail}`, extra);
  return new UpstreamError('http', url, `HTTP ${status}${detail}`, extra);
}

function checkNotHtml(url: string, contentType: string | null, body: string, expected: 'json' | 'yaml'): void {
  const start = body.trimStart().slice(0, 15).toLowerCase();
  if (contentType?.toLowerCase().includes('text/html') || start.startsWith('<!doctype') || start.startsWith('<html')) {
    throw new UpstreamError('invalid-body', url, `answer is HTML where ${expected.toUpperCase()} was expected`);
  }
}

function integer(value: string | null): number | undefined {
  if (value === null || !/^\s*\d+\s*$/.test(value)) return undefined;
  return Number(value);
}

function optional<K extends string>(key: K, value: string | null): { [P in K]?: string } {
  return (value === null ? {} : { [key]: value }) as { [P in K]?: string };
}
