import type { WakeReason } from '../desired/long-poll.ts';

/**
 * Wakes waiting consumer feeds when the catalog changes. The catalog has no publish hook, so while
 * anyone waits one timer reads a cheap fingerprint (counts and latest times) every `intervalMs`.
 */
export class FeedWatch {
  readonly #waiters = new Set<(reason: WakeReason) => void>();
  readonly #fingerprint: () => Promise<string>;
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | null = null;
  #last: string | null = null;
  #closed = false;
  #generation = 0;

  constructor(fingerprint: () => Promise<string>, intervalMs = 250) {
    this.#fingerprint = fingerprint;
    this.#intervalMs = intervalMs;
  }

  /** Resolves at the next catalog change, after `timeoutMs`, when `signal` aborts, or at close. */
  wait(timeoutMs: number, signal?: AbortSignal): Promise<WakeReason> {
    if (this.#closed) return Promise.resolve('closed');
    if (signal?.aborted) return Promise.resolve('aborted');
    return new Promise((resolve) => {
      const finish = (reason: WakeReason) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.#waiters.delete(finish);
        if (this.#waiters.size === 0) this.#stop();
        resolve(reason);
      };
      const onAbort = () => finish('aborted');
      const timer = setTimeout(() => finish('timeout'), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.add(finish);
      this.#start();
    });
  }

  get waiting(): number {
    return this.#waiters.size;
  }

  close(): void {
    this.#closed = true;
    for (const finish of [...this.#waiters]) finish('closed');
  }

  #start(): void {
    if (this.#timer) return;
    this.#last = null;
    const generation = ++this.#generation;
    const tick = async () => {
      try {
        const now = await this.#fingerprint();
        if (this.#last !== null && now !== this.#last) for (const finish of [...this.#waiters]) finish('changed');
        this.#last = now;
      } catch {
        // A failed read is retried at the next tick; waiters still end at their timeout.
      }
      if (this.#timer && generation === this.#generation) this.#timer = setTimeout(tick, this.#intervalMs);
    };
    this.#timer = setTimeout(tick, 0);
  }

  #stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#generation++;
  }
}
