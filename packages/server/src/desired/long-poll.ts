import type { ClusterBus } from '../cluster/bus.ts';

/**
 * Why a wait ended: a committed change, its time ran out, the client went away, the server is closing,
 * or notices from other replicas may have been missed (`recheck`: read again, wait on if unchanged).
 */
export type WakeReason = 'changed' | 'timeout' | 'aborted' | 'closed' | 'recheck';

/** Waiters woken in one turn of the event loop. */
export const wakeSlice = 64;

interface Waiter {
  finish(reason: WakeReason): void;
}

/**
 * In-process wake-ups for long-polling agents: one set of waiters per environment, woken after a
 * committed change, so an idle fleet costs a timer and a closure per connection and no queries.
 */
export class DesiredNotifier {
  readonly #waiters = new Map<string, Set<Waiter>>();
  readonly #listeners: Array<(environment: string | null) => void> = [];
  #publish: ((environment: string) => void) | undefined;
  #closed = false;

  /**
   * Runs `listener` on every change notice, before the waiters wake (caches drop what they hold);
   * `null` means any environment may have changed.
   */
  onChange(listener: (environment: string | null) => void): void {
    this.#listeners.push(listener);
  }

  /**
   * Shares changes with the other replicas on `bus`: a local notify reaches their waiters, theirs
   * reach this one's, and a missed notice makes every waiter here read again. Returns the unlink.
   */
  link(bus: ClusterBus): () => void {
    this.#publish = (environment) => bus.publish({ kind: 'desired', environment });
    const unsubscribe = bus.subscribe('desired', (notice, local) => {
      if (!local && typeof notice.environment === 'string') this.#wake(notice.environment);
    });
    const unresync = bus.onResync(() => this.recheck());
    return () => {
      this.#publish = undefined;
      unsubscribe();
      unresync();
    };
  }

  /** Resolves when `environment` changes, after `timeoutMs`, when `signal` aborts, or at close. */
  wait(environment: string, timeoutMs: number, signal?: AbortSignal): Promise<WakeReason> {
    if (this.#closed) return Promise.resolve('closed');
    if (signal?.aborted) return Promise.resolve('aborted');
    return new Promise<WakeReason>((resolve) => {
      let set = this.#waiters.get(environment);
      if (!set) {
        set = new Set();
        this.#waiters.set(environment, set);
      }
      const onAbort = () => waiter.finish('aborted');
      const timer = setTimeout(() => waiter.finish('timeout'), timeoutMs);
      const waiter: Waiter = {
        finish: (reason) => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          const current = this.#waiters.get(environment);
          if (current?.delete(waiter) && current.size === 0) this.#waiters.delete(environment);
          resolve(reason);
        },
      };
      set.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Wakes everyone waiting on `environment`. Call only after the change has committed. */
  notify(environment: string): void {
    this.#wake(environment);
    this.#publish?.(environment);
  }

  /** Drops every cache and makes every waiter read its revision again (a notice may have been missed). */
  recheck(): void {
    for (const listener of this.#listeners) listener(null);
    for (const set of [...this.#waiters.values()]) for (const waiter of [...set]) waiter.finish('recheck');
  }

  #wake(environment: string): void {
    for (const listener of this.#listeners) listener(environment);
    const set = this.#waiters.get(environment);
    if (!set) return;
    // In slices, with the event loop's other work between them: a fleet's answers and the polls that
    // follow them would otherwise hold up state reports and the admin API for a second or more.
    const woken = [...set];
    const slice = (from: number) => {
      const end = Math.min(woken.length, from + wakeSlice);
      for (let i = from; i < end; i++) (woken[i] as Waiter).finish('changed');
      if (end < woken.length) setImmediate(slice, end);
    };
    slice(0);
  }

  /** Releases every waiter and refuses new ones (server shutdown). */
  close(): void {
    this.#closed = true;
    for (const set of [...this.#waiters.values()]) for (const waiter of [...set]) waiter.finish('closed');
  }

  /** How many requests are waiting, over all environments. */
  get waiting(): number {
    let n = 0;
    for (const set of this.#waiters.values()) n += set.size;
    return n;
  }
}

const waitUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };

/** Parses `30s`, `2m`, `500ms` into milliseconds, capped at `maxMs`; undefined when the text is no such duration. */
export function parseWait(text: string, maxMs: number): number | undefined {
  const m = /^(\d+)(ms|s|m)$/.exec(text.trim());
  if (!m) return undefined;
  return Math.min(Number(m[1]) * (waitUnits[m[2] as string] as number), maxMs);
}
