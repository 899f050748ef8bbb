import { availableParallelism } from 'node:os';
import { DomainError } from '../errors.ts';

export interface HashQueueOptions {
  /**
   * Hashes running at once: each takes a CPU and one thread of libuv's pool (4 by default), which file
   * reads share. Default 2, or 1 with 2 CPUs or fewer so one CPU stays for everything else.
   */
  concurrency?: number;
  /** Hashes that may wait for a turn; past that a hash is refused at once rather than queued. */
  maxWaiting?: number;
}

/** The queue was full: answered 429 with a Retry-After of about the time the queue needs to drain. */
export class HashQueueFull extends DomainError {
  constructor(retryAfterSeconds: number) {
    super('rate_limited', `the server is busy checking passwords; retry in ${retryAfterSeconds} s`, {
      'retry-after': String(retryAfterSeconds),
    });
  }
}

/**
 * Runs password hashes at most `concurrency` at once with a bounded wait list, so a flood of logins
 * neither takes every thread that file reads and commits need nor makes an unbounded line.
 */
export class HashQueue {
  readonly concurrency: number;
  readonly maxWaiting: number;
  #running = 0;
  readonly #waiting: (() => void)[] = [];
  /** A moving average of one hash's duration, for Retry-After. */
  #averageMs = 100;

  constructor(opts: HashQueueOptions = {}) {
    this.concurrency = Math.max(1, opts.concurrency ?? Math.min(2, availableParallelism() - 1));
    this.maxWaiting = Math.max(0, opts.maxWaiting ?? 16);
  }

  get running(): number {
    return this.#running;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  /**
   * Runs `task` when a slot is free; throws HashQueueFull, without running it, when the wait list is
   * full. A `first` task (a login from where its user logged in before) goes to the front and is never
   * refused: a flood of made-up names cannot keep a known user waiting.
   */
  async run<T>(task: () => Promise<T>, first = false): Promise<T> {
    if (this.#running >= this.concurrency) {
      if (!first && this.#waiting.length >= this.maxWaiting) throw new HashQueueFull(this.#drainSeconds());
      // The finishing task hands its slot over, so #running stays counted for this one.
      await new Promise<void>((resolve) => (first ? this.#waiting.unshift(resolve) : this.#waiting.push(resolve)));
    } else this.#running++;
    const started = performance.now();
    try {
      return await task();
    } finally {
      this.#averageMs = this.#averageMs * 0.8 + (performance.now() - started) * 0.2;
      const next = this.#waiting.shift();
      if (next) next();
      else this.#running--;
    }
  }

  #drainSeconds(): number {
    const rounds = Math.ceil((this.#running + this.#waiting.length) / this.concurrency);
    return Math.max(1, Math.ceil((rounds * this.#averageMs) / 1000));
  }
}
