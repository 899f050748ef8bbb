/**
 * A fixed-window counter per client address for check-ins taken on check-in threads. Addresses
 * live only in memory and only until their window ends. At most `maxKeys` are counted per window:
 * beyond that a new address passes uncounted, so a flood of made-up addresses cannot fill memory.
 */
export class RateWindow {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #maxKeys: number;
  #counts = new Map<string, number>();
  #windowEnds = 0;

  constructor(max: number, windowMs: number, now: () => number = Date.now, maxKeys = 200_000) {
    this.#max = max;
    this.#windowMs = windowMs;
    this.#now = now;
    this.#maxKeys = maxKeys;
  }

  /** Counts one request; returns 0 when it is allowed, else the seconds until the window ends. */
  hit(address: string): number {
    const now = this.#now();
    if (now >= this.#windowEnds) {
      this.#counts.clear();
      this.#windowEnds = now - (now % this.#windowMs) + this.#windowMs;
    }
    const seen = this.#counts.get(address);
    if (seen === undefined && this.#counts.size >= this.#maxKeys) return 0;
    const count = (seen ?? 0) + 1;
    this.#counts.set(address, count);
    return count > this.#max ? Math.max(1, Math.ceil((this.#windowEnds - now) / 1000)) : 0;
  }
}
