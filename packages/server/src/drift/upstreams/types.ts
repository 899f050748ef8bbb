/** One release an upstream offers; versions stay strings (ordering is the comparison module's job). */
export interface UpstreamVersion {
  version: string;
  publishedAt?: string;
  url?: string;
  prerelease?: boolean;
  /** Marked deprecated upstream (Helm chart entries, npm versions). */
  deprecated?: boolean;
  /** endoflife.date only: the release cycle and its end of life (`false` = supported, `true` = ended, no date). */
  cycle?: string;
  eol?: string | boolean;
}

/** Quota figures read from `X-RateLimit-*` and `Retry-After`. */
export interface RateLimit {
  limit?: number;
  remaining?: number;
  resetAt?: string;
  retryAt?: string;
}

/** The validators of the list held, for a conditional request. */
export interface ConditionalState {
  etag?: string | undefined;
  lastModified?: string | undefined;
}

export type ListResult =
  | { notModified: true; etag?: string; lastModified?: string; rateLimit?: RateLimit }
  | { notModified?: false; versions: UpstreamVersion[]; etag?: string; lastModified?: string; rateLimit?: RateLimit };

/** A provider: `key` names the upstream (one fetch per key per TTL), `list` fetches its versions. */
export interface UpstreamProvider<Ref> {
  key(ref: Ref): string;
  list(ref: Ref, state: ConditionalState): Promise<ListResult>;
}

/** Limits every provider takes. */
export interface FetchLimits {
  maxBytes?: number;
  timeoutMs?: number;
  /** Checks each URL before it is requested (upstream-policy.ts); for URLs that come from agents. */
  guard?: (url: URL) => Promise<void>;
}
