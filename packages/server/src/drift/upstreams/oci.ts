import { defaultTimeoutMs, parseJsonBody, sameOriginNext, UpstreamError, upstreamGet } from './fetcher.ts';
import type {
  ConditionalState,
  FetchLimits,
  ListResult,
  RateLimit,
  UpstreamProvider,
  UpstreamVersion,
} from './types.ts';

export interface OciRef {
  /** An image reference as a pod spec writes it: `nginx`, `ghcr.io/org/app:1.2`, `registry:5000/x@sha256:…`. */
  image: string;
}

export interface RegistryAccess {
  /** Where the registry's API is; by default `https://<host>` (`https://registry-1.docker.io` for docker.io). */
  baseUrl?: string;
  username?: string;
  password?: string;
}

export interface OciOptions extends FetchLimits {
  /** Per registry host (`docker.io`, `ghcr.io`, `registry.example.com:5000`): base URL and credentials. */
  registries?: Record<string, RegistryAccess>;
  maxPages?: number;
  pageSize?: number;
}

const namePattern = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;

/** Splits an image reference into registry host and repository name, as Docker does. */
export function parseImage(image: string): { host: string; name: string } {
  const withoutDigest = image.split('@')[0] ?? '';
  const slash = withoutDigest.indexOf('/');
  const first = slash === -1 ? '' : withoutDigest.slice(0, slash);
  const isHost = first.includes('.') || first.includes(':') || first === 'localhost';
  let host = isHost ? first : 'docker.io';
  let name = isHost ? withoutDigest.slice(slash + 1) : withoutDigest;
  // A tag is after the last colon of the name part (a registry port is before the first slash).
  const colon = name.lastIndexOf(':');
  if (colon !== -1) name = name.slice(0, colon);
  if (host === 'index.docker.io') host = 'docker.io';
  if (host === 'docker.io' && !name.includes('/')) name = `library/${name}`;
  if (!namePattern.test(name)) throw new UpstreamError('unsupported', image, `"${name}" is not a repository name`);
  return { host, name };
}

/** Where a registry's API is: its configured base URL, else `https://<host>` (Docker Hub's for docker.io). */
export function registryBaseUrl(host: string, registries: Record<string, RegistryAccess> | undefined): string {
  const base =
    registries?.[host]?.baseUrl ?? (host === 'docker.io' ? 'https://registry-1.docker.io' : `https://${host}`);
  return base.replace(/\/+$/, '');
}

/** Tags of an image through the OCI distribution API, with the bearer-token challenge (Docker Hub, GHCR, Quay). */
export function ociProvider(options: OciOptions = {}): UpstreamProvider<OciRef> {
  const limits = {
    maxBytes: options.maxBytes ?? 5 * 1024 * 1024,
    timeoutMs: options.timeoutMs ?? defaultTimeoutMs,
    guard: options.guard,
  };
  const maxPages = options.maxPages ?? 20;
  const pageSize = options.pageSize ?? 1000;
  const access = (host: string): RegistryAccess => options.registries?.[host] ?? {};
  const baseOf = (host: string) => registryBaseUrl(host, options.registries);

  return {
    key(ref) {
      const { host, name } = parseImage(ref.image);
      return `oci:${host}/${name}`;
    },
    async list(ref: OciRef, state: ConditionalState): Promise<ListResult> {
      const { host, name } = parseImage(ref.image);
      const base = baseOf(host);
      const headers: Record<string, string> = { accept: 'application/json' };
      let url: string | undefined = `${base}/v2/${name}/tags/list?n=${pageSize}`;
      const versions: UpstreamVersion[] = [];
      let first: { etag?: string; lastModified?: string } = {};
      let rateLimit: RateLimit | undefined;
      for (let page = 0; url !== undefined && page < maxPages; page++) {
        const get = (pageUrl: string) =>
          upstreamGet(pageUrl, { ...limits, headers, ...(page === 0 ? state : {}), expect: 'json' });
        let answer: Awaited<ReturnType<typeof upstreamGet>>;
        try {
          answer = await get(url);
        } catch (error) {
          const challenge = error instanceof UpstreamError && error.status === 401 ? error.challenge : undefined;
          if (!challenge || headers.authorization) throw error;
          headers.authorization = `Bearer ${await fetchToken(base, challenge, name, access(host), limits)}`;
          answer = await get(url);
        }
        rateLimit = answer.rateLimit ?? rateLimit;
        if (answer.status === 'not-modified') {
          return { notModified: true, ...pickValidators(answer), ...(rateLimit ? { rateLimit } : {}) };
        }
        if (page === 0) first = pickValidators(answer);
        const body = parseJsonBody(url, answer.body) as { tags?: unknown } | null;
        const tags = body?.tags ?? [];
        if (!Array.isArray(tags)) throw new UpstreamError('invalid-body', url, '"tags" is not an array');
        for (const tag of tags) if (typeof tag === 'string' && tag !== '') versions.push({ version: tag });
        url = sameOriginNext(url, answer.link);
      }
      return { versions, ...first, ...(rateLimit ? { rateLimit } : {}) };
    },
  };
}

/** Answers `WWW-Authenticate: Bearer realm=…,service=…,scope=…` with a token from the realm. */
async function fetchToken(
  base: string,
  challenge: string,
  name: string,
  access: RegistryAccess,
  limits: { maxBytes: number; timeoutMs: number; guard: FetchLimits['guard'] },
): Promise<string> {
  const params = parseChallenge(challenge);
  if (!params?.realm) throw new UpstreamError('http', base, `unsupported authentication challenge: ${challenge}`);
  const realm = new URL(params.realm);
  // Credentials never go over plain HTTP unless the registry itself is plain HTTP (a local one).
  if (realm.protocol !== 'https:' && new URL(base).protocol === 'https:') {
    throw new UpstreamError('unsupported', base, `token realm ${realm.origin} is not https`);
  }
  if (params.service) realm.searchParams.set('service', params.service);
  realm.searchParams.set('scope', params.scope ?? `repository:${name}:pull`);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (access.username !== undefined && access.password !== undefined) {
    headers.authorization = `Basic ${Buffer.from(`${access.username}:${access.password}`).toString('base64')}`;
  }
  const answer = await upstreamGet(realm.href, { ...limits, headers, expect: 'json' });
  const body =
    answer.status === 'ok' ? (parseJsonBody(realm.href, answer.body) as Record<string, unknown> | null) : null;
  const token = body?.token ?? body?.access_token;
  if (typeof token !== 'string' || token === '')
    throw new UpstreamError('invalid-body', realm.href, 'no token in the answer');
  return token;
}

export function parseChallenge(header: string): Record<string, string> | undefined {
  const match = /^\s*Bearer\s+(.*)$/i.exec(header);
  if (!match?.[1]) return undefined;
  const params: Record<string, string> = {};
  for (const pair of match[1].matchAll(/([a-zA-Z_]+)\s*=\s*(?:"([^"]*)"|([^,\s]*))/g)) {
    if (pair[1]) params[pair[1].toLowerCase()] = pair[2] ?? pair[3] ?? '';
  }
  return params;
}

function pickValidators(answer: { etag?: string; lastModified?: string }): { etag?: string; lastModified?: string } {
  return {
    ...(answer.etag ? { etag: answer.etag } : {}),
    ...(answer.lastModified ? { lastModified: answer.lastModified } : {}),
  };
}
