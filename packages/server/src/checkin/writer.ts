import type { Logger } from 'pino';
import { Unavailable } from '../errors.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { PendingCheckin } from './store.ts';

/** Why a check-in was not stored: the commit failed, or too many were already waiting for one. */
export type UnstoredReason = 'store_failed' | 'queue_full';

/** Set on an answer given while the store could not take the check-in; the body is the usual one. */
export const unstoredHeader = 'flotilla-unstored';

/** The store could not take a check-in; the service answers it anyway unless told to refuse. */
export class CheckinNotStored extends Unavailable {
  readonly reason: UnstoredReason;
  constructor(reason: UnstoredReason, message: string, cause?: unknown) {
    super(message, 5);
    this.reason = reason;
    if (cause !== undefined) this.cause = cause;
  }
}

interface Waiting {
  item: PendingCheckin;
  resolve: () => void;
  reject: (err: Error) => void;
}

export interface CheckinWriterOptions {
  append: (batch: PendingCheckin[]) => Promise<void>;
  logger: Logger;
  metrics: Metrics;
  /** Most check-ins in one commit. */
  maxBatch?: number;
  /** Check-ins waiting beyond this are not queued (CheckinNotStored), so memory stays bounded under overload. */
  maxQueue?: number;
}

/**
 * Group commit: callers wait until their check-in is durable. While one commit runs, new check-ins
 * gather and go out together in the next, so batches grow with load and latency stays one commit.
 */
export class CheckinWriter {
  readonly #opts: Required<CheckinWriterOptions>;
  #queue: Waiting[] = [];
  #running: Promise<void> | null = null;
  #closed = false;

  constructor(opts: CheckinWriterOptions) {
    this.#opts = { maxBatch: 2000, maxQueue: 50_000, ...opts };
  }

  submit(item: PendingCheckin): Promise<void> {
    if (this.#closed) return Promise.reject(new Unavailable('the server is shutting down', 5));
    if (this.#queue.length >= this.#opts.maxQueue) {
      return Promise.reject(
        new CheckinNotStored('queue_full', 'too many check-ins are waiting to be stored; try again shortly'),
      );
    }
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      this.#opts.metrics.storeQueueDepth.set(this.#queue.length);
      if (!this.#running) this.#running = this.#drain();
    });
  }

  get queueDepth(): number {
    return this.#queue.length;
  }

  /** Refuses new check-ins and waits for every queued one to be committed (or failed). */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#running) await this.#running;
  }

  async #drain(): Promise<void> {
    // Let the current tick's requests join the first batch.
    await new Promise<void>((r) => setImmediate(r));
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#opts.maxBatch);
      this.#opts.metrics.storeQueueDepth.set(this.#queue.length);
      const started = performance.now();
      try {
        await this.#opts.append(batch.map((w) => w.item));
        this.#opts.metrics.storeBatchSize.observe(batch.length);
        this.#opts.metrics.storeBatchDuration.observe((performance.now() - started) / 1000);
        for (const w of batch) w.resolve();
      } catch (err) {
        // The service logs once per incident; this line is for following one batch by batch.
        this.#opts.logger.debug({ err, batch: batch.length }, 'storing a batch of check-ins failed');
        const failure = new CheckinNotStored(
          'store_failed',
          'the check-in could not be stored; try again shortly',
          err,
        );
        for (const w of batch) w.reject(failure);
      }
    }
    this.#running = null;
  }
}
