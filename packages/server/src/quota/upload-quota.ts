import { DomainError } from '../errors.ts';

/** An upload refused because its instance spent its quota; `Retry-After` says when it may try again. */
export class QuotaExceeded extends DomainError {
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds: number) {
    super('rate_limited', message, { 'retry-after': String(retryAfterSeconds) });
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** How much of each measure (bytes, lines, reports) one key may spend per window; 0 is unlimited. */
export type QuotaLimits = Record<string, number>;

interface Bucket {
  /** What is left of each measure; may go below zero after one oversized upload (a debt). */
  left: Record<string, number>;
  at: number;
}

/**
 * Token buckets per key (an instance): each measure refills at `limit / windowMs`, up to `limit`.
 * An upload larger than a whole window is let through only when the bucket is full, and the debt it
 * leaves is paid by waiting. At most `maxKeys` buckets are held: full ones are forgotten first (a full
 * bucket is the same as none); past that, new keys share one bucket, so memory stays bounded.
 */
export class UploadQuota {
  readonly #limits: QuotaLimits;
  readonly #windowMs: number;
  readonly #maxKeys: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, Bucket>();
  #sweptAt = Number.NEGATIVE_INFINITY;

  constructor(limits: QuotaLimits, windowMs: number, opts: { maxKeys?: number; now?: () => number } = {}) {
    this.#limits = Object.fromEntries(Object.entries(limits).filter(([, limit]) => limit > 0));
    this.#windowMs = windowMs;
    this.#maxKeys = opts.maxKeys ?? 100_000;
    this.#now = opts.now ?? Date.now;
  }

  get enabled(): boolean {
    return Object.keys(this.#limits).length > 0;
  }

  /** Buckets held now (bounded by `maxKeys` plus the shared one). */
  get size(): number {
    return this.#buckets.size;
  }

  /**
   * Spends `cost` from `key`'s bucket and answers 0, or spends nothing and answers the seconds until
   * the cost fits (at least 1).
   */
  take(key: string, cost: Record<string, number>): number {
    if (!this.enabled) return 0;
    const now = this.#now();
    const bucket = this.#bucketFor(key, now);
    let waitMs = 0;
    for (const [measure, limit] of Object.entries(this.#limits)) {
      const left = bucket.left[measure] ?? limit;
      const needed = Math.min(cost[measure] ?? 0, limit);
      if (needed > left) waitMs = Math.max(waitMs, ((needed - left) * this.#windowMs) / limit);
    }
    if (waitMs > 0) return Math.max(1, Math.ceil(waitMs / 1000));
    for (const measure of Object.keys(this.#limits)) {
      bucket.left[measure] = (bucket.left[measure] ?? 0) - (cost[measure] ?? 0);
    }
    return 0;
  }

  #bucketFor(key: string, now: number): Bucket {
    let bucket = this.#buckets.get(key);
    if (!bucket) {
      // A sweep walks every bucket, so a flood of new keys gets at most one a second.
      if (this.#buckets.size >= this.#maxKeys && now - this.#sweptAt >= 1000) this.#forgetFull(now);
      if (this.#buckets.size >= this.#maxKeys) key = '(shared)';
      bucket = this.#buckets.get(key) ?? { left: { ...this.#limits }, at: now };
      this.#buckets.set(key, bucket);
    }
    this.#refill(bucket, now);
    return bucket;
  }

  #refill(bucket: Bucket, now: number): void {
    const elapsed = Math.max(0, now - bucket.at);
    bucket.at = now;
    for (const [measure, limit] of Object.entries(this.#limits)) {
      bucket.left[measure] = Math.min(limit, (bucket.left[measure] ?? limit) + (elapsed * limit) / this.#windowMs);
    }
  }

  #forgetFull(now: number): void {
    this.#sweptAt = now;
    for (const [key, bucket] of this.#buckets) {
      this.#refill(bucket, now);
      if (Object.entries(this.#limits).every(([m, limit]) => (bucket.left[m] ?? limit) >= limit)) {
        this.#buckets.delete(key);
      }
    }
  }
}
