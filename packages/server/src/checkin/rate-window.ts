/**
 * How many check-ins one peer may send a minute, as a multiple of the per-address limit, when it
 * claims forwarded addresses that no `--trusted-proxies` vouches for: a fleet of 100 busy clients
 * behind one undeclared proxy still passes, a client that makes addresses up is still limited.
 */
export const peerTotalFactor = 100;

/**
 * A fixed-window counter per rate-limit key (see rateLimitKey), the same on check-in threads and on
 * the main thread. A key "peer address" is an address that peer forwards for: it is counted on its
 * own and against the peer's total, at most `peerTotalFactor` times the limit. Keys live only in
 * memory and only until their window ends, at most `maxKeys` of them: past that a new key is
 * counted against its peer's own bucket, or, for a new peer, against one bucket shared by all such,
 * so a flood of made-up addresses can neither fill memory nor lift the limit.
 */
export class RateWindow {
  readonly #max: number;
  readonly #peerMax: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #maxKeys: number;
  #counts = new Map<string, number>();
  #overflow = 0;
  #windowEnds = 0;

  constructor(max: number, windowMs: number, now: () => number = Date.now, maxKeys = 200_000) {
    this.#max = max;
    this.#peerMax = max * peerTotalFactor;
    this.#windowMs = windowMs;
    this.#now = now;
    this.#maxKeys = maxKeys;
  }

  /** Counts one request; returns 0 when it is allowed, else the seconds until the window ends. */
  hit(key: string): number {
    const now = this.#now();
    if (now >= this.#windowEnds) {
      this.#counts.clear();
      this.#overflow = 0;
      this.#windowEnds = now - (now % this.#windowMs) + this.#windowMs;
    }
    const space = key.indexOf(' ');
    let over: boolean;
    if (space < 0) over = this.#take(key, this.#max) ?? this.#overflowed();
    else {
      const peer = key.slice(0, space);
      // Both are counted, so a peer past its total cannot spend the wait on fresh addresses.
      const overTotal = this.#take(`${peer} *`, this.#peerMax) ?? this.#overflowed();
      over = (this.#take(key, this.#max) ?? this.#take(peer, this.#max) ?? this.#overflowed()) || overTotal;
    }
    return over ? Math.max(1, Math.ceil((this.#windowEnds - now) / 1000)) : 0;
  }

  /** Counts against `key`: whether it is past `limit`, or null for a new key when the window is full. */
  #take(key: string, limit: number): boolean | null {
    const seen = this.#counts.get(key);
    if (seen === undefined && this.#counts.size >= this.#maxKeys) return null;
    const count = (seen ?? 0) + 1;
    this.#counts.set(key, count);
    return count > limit;
  }

  #overflowed(): boolean {
    this.#overflow += 1;
    return this.#overflow > this.#peerMax;
  }
}
