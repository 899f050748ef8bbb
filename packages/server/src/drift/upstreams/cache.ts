import { UpstreamError } from './fetcher.ts';
import type { ConditionalState, ListResult, RateLimit, UpstreamVersion } from './types.ts';

/** What is kept per upstream: the last good list, its validators, and the last error. */
export interface UpstreamState {
  key: string;
  /** The last good list; null before the first successful fetch. */
  versions: UpstreamVersion[] | null;
  etag: string | null;
  lastModified: string | null;
  /** When the list was last confirmed (fetched, or answered 304). */
  fetchedAt: string | null;
  error: string | null;
  errorAt: string | null;
  /** Consecutive failures, and no new attempt before this time (backoff, Retry-After, quota reset). */
  failures: number;
  retryAt: string | null;
  rateLimit: RateLimit | null;
}

/** Storage of upstream states; in memory now, in the main database later. */
export interface UpstreamStateStore {
  get(key: string): Promise<UpstreamState | undefined>;
  put(state: UpstreamState): Promise<void>;
}

export class MemoryUpstreamStateStore implements UpstreamStateStore {
  readonly #states = new Map<string, UpstreamState>();
  async get(key: string): Promise<UpstreamState | undefined> {
    const state = this.#states.get(key);
    return state ? structuredClone(state) : undefined;
  }
  async put(state: UpstreamState): Promise<void> {
    this.#states.set(state.key, structuredClone(state));
  }
}

/** What a caller gets: the list (possibly stale), its age, and the error of the last attempt if it failed. */
export interface UpstreamEntry {
  key: string;
  versions: UpstreamVersion[] | null;
  fetchedAt: string | null;
  ageMs: number | null;
  error: string | null;
  errorAt: string | null;
  rateLimit: RateLimit | null;
}

export interface UpstreamCacheOptions {
  store?: UpstreamStateStore;
  /** How long a list is used before it is checked again (default 1 h). */
  ttlMs?: number;
  /** First wait after a failure, doubled per consecutive failure up to the TTL (default 1 min). */
  backoffMs?: number;
  now?: () => number;
}

/**
 * At most one fetch per key per TTL however many callers ask: concurrent callers share one promise,
 * a failed fetch keeps the last good list, and a fetch after the TTL is a conditional request.
 */
export class UpstreamCache {
  readonly #store: UpstreamStateStore;
  readonly #ttlMs: number;
  readonly #backoffMs: number;
  readonly #now: () => number;
  readonly #inFlight = new Map<string, Promise<UpstreamEntry>>();

  constructor(options: UpstreamCacheOptions = {}) {
    this.#store = options.store ?? new MemoryUpstreamStateStore();
    this.#ttlMs = options.ttlMs ?? 60 * 60 * 1000;
    this.#backoffMs = options.backoffMs ?? 60 * 1000;
    this.#now = options.now ?? Date.now;
  }

  get(key: string, fetchList: (state: ConditionalState) => Promise<ListResult>): Promise<UpstreamEntry> {
    const running = this.#inFlight.get(key);
    if (running) return running;
    const promise = this.#refresh(key, fetchList).finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, promise);
    return promise;
  }

  async #refresh(key: string, fetchList: (state: ConditionalState) => Promise<ListResult>): Promise<UpstreamEntry> {
    const now = this.#now();
    const state = (await this.#store.get(key)) ?? emptyState(key);
    const fresh = state.fetchedAt !== null && now - Date.parse(state.fetchedAt) < this.#ttlMs;
    const waiting = state.retryAt !== null && now < Date.parse(state.retryAt);
    if (fresh || waiting) return this.#entry(state, now);
    // Validators only make sense while the list they describe is held.
    const conditional = state.versions
      ? { etag: state.etag ?? undefined, lastModified: state.lastModified ?? undefined }
      : {};
    let next: UpstreamState;
    try {
      next = succeeded(state, await fetchList(conditional), now);
    } catch (error) {
      next = this.#failed(state, error, now);
    }
    await this.#store.put(next);
    return this.#entry(next, now);
  }

  #failed(state: UpstreamState, error: unknown, now: number): UpstreamState {
    const failures = state.failures + 1;
    const backoff = Math.min(this.#ttlMs, this.#backoffMs * 2 ** Math.min(failures - 1, 20));
    let retryAt = now + backoff;
    const rateLimit = error instanceof UpstreamError ? error.rateLimit : undefined;
    if (rateLimit?.retryAt) retryAt = Math.max(retryAt, Date.parse(rateLimit.retryAt));
    if (rateLimit?.remaining === 0 && rateLimit.resetAt) retryAt = Math.max(retryAt, Date.parse(rateLimit.resetAt));
    return {
      ...state,
      error: error instanceof Error ? error.message : String(error),
      errorAt: new Date(now).toISOString(),
      failures,
      retryAt: new Date(retryAt).toISOString(),
      rateLimit: rateLimit ?? state.rateLimit,
    };
  }

  #entry(state: UpstreamState, now: number): UpstreamEntry {
    return {
      key: state.key,
      versions: state.versions,
      fetchedAt: state.fetchedAt,
      ageMs: state.fetchedAt === null ? null : now - Date.parse(state.fetchedAt),
      error: state.error,
      errorAt: state.errorAt,
      rateLimit: state.rateLimit,
    };
  }
}

function succeeded(state: UpstreamState, result: ListResult, now: number): UpstreamState {
  const base = {
    ...state,
    fetchedAt: new Date(now).toISOString(),
    error: null,
    errorAt: null,
    failures: 0,
    retryAt: null,
  };
  const rateLimit = result.rateLimit ?? state.rateLimit;
  if (result.notModified) {
    return {
      ...base,
      etag: result.etag ?? state.etag,
      lastModified: result.lastModified ?? state.lastModified,
      rateLimit,
    };
  }
  return {
    ...base,
    versions: result.versions,
    etag: result.etag ?? null,
    lastModified: result.lastModified ?? null,
    rateLimit,
  };
}

function emptyState(key: string): UpstreamState {
  return {
    key,
    versions: null,
    etag: null,
    lastModified: null,
    fetchedAt: null,
    error: null,
    errorAt: null,
    failures: 0,
    retryAt: null,
    rateLimit: null,
  };
}
