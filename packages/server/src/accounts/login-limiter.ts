import { createHash } from 'node:crypto';

export interface LimiterOptions {
  maxFailures?: number;
  windowMs?: number;
  now?: () => number;
  /** Bound on the keys held, so a flood of names cannot grow memory without limit. */
  maxKeys?: number;
}

/**
 * Failed logins per name and client address, in memory only. Keys are hashes, so not even the
 * process memory holds the address itself; nothing is written anywhere.
 */
export class LoginLimiter {
  readonly #failures = new Map<string, number[]>();
  readonly #max: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #maxKeys: number;

  constructor(opts: LimiterOptions = {}) {
    this.#max = opts.maxFailures ?? 5;
    this.#windowMs = opts.windowMs ?? 15 * 60_000;
    this.#now = opts.now ?? Date.now;
    this.#maxKeys = opts.maxKeys ?? 100_000;
  }

  #key(name: string, address: string): string {
    return createHash('sha256').update(`${name.toLowerCase()}\0${address}`).digest('base64url');
  }

  #recent(key: string): number[] {
    const since = this.#now() - this.#windowMs;
    const list = (this.#failures.get(key) ?? []).filter((t) => t > since);
    if (list.length === 0) this.#failures.delete(key);
    else this.#failures.set(key, list);
    return list;
  }

  /** Seconds until another attempt is allowed, or 0 when it is allowed now. */
  retryAfter(name: string, address: string): number {
    const list = this.#recent(this.#key(name, address));
    if (list.length < this.#max) return 0;
    const oldest = list[list.length - this.#max] as number;
    return Math.max(1, Math.ceil((oldest + this.#windowMs - this.#now()) / 1000));
  }

  /**
   * Counts an attempt before its slow check runs: 0 when allowed (and now counted), else the seconds
   * to wait. Checking and counting in one synchronous step means parallel guesses cannot overshoot.
   */
  reserve(name: string, address: string): number {
    const wait = this.retryAfter(name, address);
    if (wait === 0) this.fail(name, address);
    return wait;
  }

  /** Gives back one reserved attempt that reached no verdict (the store failed, say). */
  release(name: string, address: string): void {
    const key = this.#key(name, address);
    const list = this.#failures.get(key);
    list?.pop();
    if (list?.length === 0) this.#failures.delete(key);
  }

  /** Failures (and reserved attempts) in the window. */
  attempts(name: string, address: string): number {
    return this.#recent(this.#key(name, address)).length;
  }

  /** Records a failure and returns how many there were in the window. */
  fail(name: string, address: string): number {
    const key = this.#key(name, address);
    const list = this.#recent(key);
    list.push(this.#now());
    this.#failures.set(key, list.slice(-this.#max));
    if (this.#failures.size > this.#maxKeys) this.#prune();
    return list.length;
  }

  /** How many name+address keys are held. */
  get size(): number {
    return this.#failures.size;
  }

  succeed(name: string, address: string): void {
    this.#failures.delete(this.#key(name, address));
  }

  #prune(): void {
    for (const key of [...this.#failures.keys()]) this.#recent(key);
    // Still too many: drop the oldest keys (Map keeps insertion order).
    for (const key of this.#failures.keys()) {
      if (this.#failures.size <= this.#maxKeys) break;
      this.#failures.delete(key);
    }
  }
}
