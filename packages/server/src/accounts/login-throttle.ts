import { createHash } from 'node:crypto';
import { bucketAddress } from '../checkin/forwarded.ts';
import type { ClusterBus, ClusterNotice } from '../cluster/bus.ts';

export interface Budget {
  /** Failed logins allowed at once. */
  burst: number;
  /** Failed logins allowed a minute once the burst is spent. */
  perMinute: number;
}

export interface LoginThrottleOptions {
  now?: () => number;
  /** Failures per name and source before each further attempt must wait. */
  freeFailures?: number;
  /** The first wait; each further failure doubles it, up to maxDelayMs. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** A name and source with no failure for this long starts afresh. */
  forgetMs?: number;
  /** Failed logins per source address (IPv6 per /64), whatever the names. */
  perSource?: Budget;
  /** Failed logins on the whole server, whatever the names and sources. */
  overall?: Budget;
  /** How long a name and address that logged in is remembered as known, and exempt from the overall budget. */
  knownMs?: number;
  /** Bound on the names and sources held, so a flood cannot grow memory without limit. */
  maxKeys?: number;
}

/** An attempt allowed and counted before its password check; exactly one of the three ends it. */
export interface LoginReservation {
  /** This name logged in from this address before: its check may go first (see HashQueue.run). */
  known: boolean;
  /** A wrong password or unknown name: the attempt stays counted; returns the failures of this name and source. */
  failed(): number;
  /** The right password: this name and source start afresh, and the budgets get the attempt back. */
  succeeded(): void;
  /** No verdict (the store failed, the hash queue was full): everything gets the attempt back. */
  released(): void;
}

export interface LoginRefusal {
  retryAfter: number;
  message: string;
}

/** A token bucket: `burst` at once, then `perMinute`. */
class Bucket {
  tokens: number;
  at: number;
  constructor(burst: number, at: number) {
    this.tokens = burst;
    this.at = at;
  }
  refill(budget: Budget, now: number): void {
    // A clock stepped back neither takes tokens nor stops the refill for long.
    this.tokens = Math.min(budget.burst, this.tokens + (Math.max(0, now - this.at) * budget.perMinute) / 60_000);
    this.at = now;
  }
  /** Milliseconds until one attempt is allowed; 0 now. */
  wait(budget: Budget, now: number): number {
    this.refill(budget, now);
    return this.tokens >= 1 ? 0 : ((1 - this.tokens) * 60_000) / budget.perMinute;
  }
  full(budget: Budget, now: number): boolean {
    this.refill(budget, now);
    return this.tokens >= budget.burst;
  }
}

interface Pair {
  failures: number;
  last: number;
}

/**
 * What one replica tells the others about an attempt, by the same hashes it keys its counts with:
 * counted (`reserve`), failed, succeeded or given back (`release`). `k`: the pair was known.
 */
type Shared = { op: 'reserve' | 'fail' | 'success' | 'release'; p: string; s: string; k: boolean };

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));
const digest = (text: string) => createHash('sha256').update(text).digest('base64url');

/**
 * Login limits, in memory only, keyed by hashes (not even process memory holds an address). Per name
 * and source, failures beyond a few make each further attempt wait longer (1 s, 2 s, 4 s … capped)
 * instead of locking the name; failures per source and overall are budgets whatever the name, so a
 * refusal never tells whether a name exists, and random names cannot buy unlimited password checks.
 * A name and address that logged in before is exempt from the overall budget, so a flood from
 * elsewhere does not keep its user out.
 */
export class LoginThrottle {
  readonly #now: () => number;
  readonly #free: number;
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #forgetMs: number;
  readonly #perSource: Budget;
  readonly #overallBudget: Budget;
  readonly #knownMs: number;
  readonly #maxKeys: number;
  readonly #pairs = new Map<string, Pair>();
  /** Name and address pairs that logged in, with when: a flood from elsewhere does not keep them out. */
  readonly #known = new Map<string, number>();
  readonly #sources = new Map<string, Bucket>();
  readonly #overall: Bucket;
  #share: ((shared: Shared) => void) | undefined;

  constructor(opts: LoginThrottleOptions = {}) {
    this.#now = opts.now ?? Date.now;
    this.#free = opts.freeFailures ?? 5;
    this.#baseMs = opts.baseDelayMs ?? 1000;
    this.#maxMs = opts.maxDelayMs ?? 5 * 60_000;
    this.#forgetMs = opts.forgetMs ?? 15 * 60_000;
    this.#perSource = opts.perSource ?? { burst: 10, perMinute: 10 };
    this.#overallBudget = opts.overall ?? { burst: 30, perMinute: 120 };
    this.#knownMs = opts.knownMs ?? 30 * 86_400_000;
    this.#maxKeys = opts.maxKeys ?? 100_000;
    this.#overall = new Bucket(this.#overallBudget.burst, this.#now());
  }

  /** How long this name and source must wait after `failures` failures, the last at `last`. */
  #pairWait(pair: Pair | undefined, now: number): number {
    if (!pair || pair.failures < this.#free) return 0;
    const delay = Math.min(this.#maxMs, this.#baseMs * 2 ** (pair.failures - this.#free));
    return Math.min(delay, Math.max(0, pair.last + delay - now));
  }

  #pair(key: string, now: number): Pair | undefined {
    const pair = this.#pairs.get(key);
    if (pair && now - pair.last > this.#forgetMs) {
      this.#pairs.delete(key);
      return undefined;
    }
    return pair;
  }

  /**
   * Checks every limit and, when all allow it, counts the attempt in one synchronous step, so parallel
   * attempts cannot all pass the check before any is counted. Refused attempts count nowhere.
   */
  reserve(name: string, address: string): LoginReservation | LoginRefusal {
    const now = this.#now();
    const pairKey = digest(`${name.toLowerCase()}\0${bucketAddress(address)}`);
    const sourceKey = digest(bucketAddress(address));
    const pair = this.#pair(pairKey, now);
    const pairWait = this.#pairWait(pair, now);
    if (pairWait > 0) {
      return { retryAfter: seconds(pairWait), message: `too many failed logins for "${name}" from this address` };
    }
    const source = this.#sources.get(sourceKey) ?? new Bucket(this.#perSource.burst, now);
    const sourceWait = source.wait(this.#perSource, now);
    if (sourceWait > 0) return { retryAfter: seconds(sourceWait), message: 'too many failed logins from this address' };
    const knownAt = this.#known.get(pairKey);
    const known = knownAt !== undefined && now - knownAt < this.#knownMs;
    const overallWait = known ? 0 : this.#overall.wait(this.#overallBudget, now);
    if (overallWait > 0) return { retryAfter: seconds(overallWait), message: 'too many failed logins on this server' };

    const counted: Pair = pair ?? { failures: 0, last: now };
    counted.failures++;
    counted.last = now;
    source.tokens--;
    if (!known) this.#overall.tokens--;
    // Counted before #touch, which may prune: a bucket just spent is never taken for a full, idle one.
    this.#touch(this.#pairs, pairKey, counted);
    this.#touch(this.#sources, sourceKey, source);
    const share = (op: Shared['op']) => this.#share?.({ op, p: pairKey, s: sourceKey, k: known });
    share('reserve');

    const giveBack = () => {
      source.tokens = Math.min(this.#perSource.burst, source.tokens + 1);
      if (!known) this.#overall.tokens = Math.min(this.#overallBudget.burst, this.#overall.tokens + 1);
    };
    let open = true;
    const end = () => {
      const was = open;
      open = false;
      return was;
    };
    return {
      known,
      failed: () => {
        if (end()) {
          counted.last = this.#now();
          share('fail');
        }
        return counted.failures;
      },
      succeeded: () => {
        if (!end()) return;
        this.#pairs.delete(pairKey);
        this.#touch(this.#known, pairKey, this.#now());
        giveBack();
        share('success');
      },
      released: () => {
        if (!end()) return;
        counted.failures--;
        if (counted.failures <= 0) this.#pairs.delete(pairKey);
        giveBack();
        share('release');
      },
    };
  }

  /**
   * Shares the counts with the other replicas on `bus`: each attempt counted, failed or ended here is
   * counted there too, so a lockout earned through one replica holds on all. Linking twice is a no-op.
   */
  link(bus: ClusterBus): void {
    if (this.#share) return;
    this.#share = (shared) => bus.publish({ kind: 'login', ...shared });
    bus.subscribe('login', (notice, local) => {
      if (!local) this.apply(notice);
    });
  }

  /** Counts an attempt another replica reported, as if it had been made here. */
  apply(notice: ClusterNotice): void {
    const { op, p, s, k } = notice;
    if (typeof p !== 'string' || typeof s !== 'string' || typeof k !== 'boolean') return;
    const now = this.#now();
    const source = this.#sources.get(s);
    const giveBack = () => {
      if (source) source.tokens = Math.min(this.#perSource.burst, source.tokens + 1);
      if (!k) this.#overall.tokens = Math.min(this.#overallBudget.burst, this.#overall.tokens + 1);
    };
    if (op === 'reserve') {
      const pair = this.#pair(p, now) ?? { failures: 0, last: now };
      pair.failures++;
      pair.last = now;
      const bucket = source ?? new Bucket(this.#perSource.burst, now);
      bucket.refill(this.#perSource, now);
      bucket.tokens--;
      if (!k) {
        this.#overall.refill(this.#overallBudget, now);
        this.#overall.tokens--;
      }
      this.#touch(this.#pairs, p, pair);
      this.#touch(this.#sources, s, bucket);
    } else if (op === 'fail') {
      const pair = this.#pairs.get(p);
      if (pair) pair.last = now;
    } else if (op === 'success') {
      this.#pairs.delete(p);
      this.#touch(this.#known, p, now);
      giveBack();
    } else if (op === 'release') {
      const pair = this.#pairs.get(p);
      if (pair && --pair.failures <= 0) this.#pairs.delete(p);
      giveBack();
    }
  }

  /** Names and sources held (for the memory bound). */
  get size(): number {
    return this.#pairs.size + this.#sources.size + this.#known.size;
  }

  /** Moves `key` to the end (Maps keep insertion order), so pruning drops the least recently used. */
  #touch<V>(map: Map<string, V>, key: string, value: V): void {
    map.delete(key);
    map.set(key, value);
    if (map.size > this.#maxKeys) this.#prune();
  }

  #prune(): void {
    const now = this.#now();
    for (const key of [...this.#pairs.keys()]) this.#pair(key, now);
    for (const [key, bucket] of this.#sources) if (bucket.full(this.#perSource, now)) this.#sources.delete(key);
    for (const [key, at] of this.#known) if (now - at >= this.#knownMs) this.#known.delete(key);
    for (const map of [this.#pairs, this.#sources, this.#known] as Map<string, unknown>[]) {
      for (const key of map.keys()) {
        if (map.size <= this.#maxKeys) break;
        map.delete(key);
      }
    }
  }
}

export const isRefusal = (r: LoginReservation | LoginRefusal): r is LoginRefusal => 'retryAfter' in r;
