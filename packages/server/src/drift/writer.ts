import type { Kysely } from 'kysely';
import { commitInOneStep, type Database } from '../db/connection.ts';
import type { Tables } from '../db/tables.ts';
import { Unavailable } from '../errors.ts';
import { applyReports, type IngestResult, type PreparedReport } from './store.ts';

interface Waiting {
  report: PreparedReport;
  resolve: (r: IngestResult) => void;
  reject: (err: Error) => void;
}

/** A commit answered when the transaction committed, with a promise for when it is durable. */
export type PipelinedCommit = Database['commitPipelined'];

/**
 * Group commit of drift reports: while one transaction commits, new reports gather and go out together
 * in the next, so throughput grows with load. The next transaction starts as soon as the previous one
 * committed, while its sync runs (the sync covers both); each report is answered once durable.
 */
export class DriftReportWriter {
  readonly #commit: PipelinedCommit;
  readonly #maxBatch: number;
  readonly #maxQueue: number;
  readonly #resolutionMs: number | undefined;
  #queue: Waiting[] = [];
  /** Reports committed and waiting for their sync; they count against maxQueue with the queue. */
  #syncing = 0;
  #running: Promise<void> | null = null;
  readonly #durable = new Set<Promise<void>>();
  #closed = false;

  constructor(
    db: Kysely<Tables>,
    opts: {
      maxBatch?: number;
      maxQueue?: number;
      commit?: PipelinedCommit;
      /** How often an unchanged row's `reported_at` is rewritten at most (see applyReports). */
      reportedAtResolutionMs?: number;
    } = {},
  ) {
    this.#commit = opts.commit ?? commitInOneStep(db);
    this.#maxBatch = opts.maxBatch ?? 500;
    this.#maxQueue = opts.maxQueue ?? 10_000;
    this.#resolutionMs = opts.reportedAtResolutionMs;
  }

  /** Resolves once the report is durable; refused (503) when too many wait, so memory stays bounded. */
  submit(report: PreparedReport): Promise<IngestResult> {
    if (this.#closed) return Promise.reject(new Unavailable('the server is shutting down', 5));
    if (this.#queue.length + this.#syncing >= this.#maxQueue)
      return Promise.reject(new Unavailable('too many drift reports are waiting to be stored; try again shortly', 5));
    return new Promise<IngestResult>((resolve, reject) => {
      this.#queue.push({ report, resolve, reject });
      this.#running ??= this.#drain();
    });
  }

  /** Refuses new reports and waits for the queued ones to be durable. */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#running) await this.#running;
    await Promise.allSettled([...this.#durable]);
  }

  async #drain(): Promise<void> {
    // A SQLite commit holds the event loop while it writes: yield before each batch so the requests
    // that arrived meanwhile are read and join it.
    for (;;) {
      await new Promise<void>((r) => setImmediate(r));
      if (this.#queue.length === 0) break;
      const batch = this.#queue.splice(0, this.#maxBatch);
      const failed = (err: unknown) => {
        const failure = new Unavailable('the drift report could not be stored; try again shortly', 5);
        failure.cause = err;
        for (const w of batch) w.reject(failure);
      };
      try {
        const { result: results, durable } = await this.#commit((tx) =>
          applyReports(
            tx,
            batch.map((w) => w.report),
            this.#resolutionMs,
          ),
        );
        this.#syncing += batch.length;
        const acknowledged = durable
          .then(() => {
            for (const [i, w] of batch.entries()) w.resolve(results[i] as IngestResult);
          }, failed)
          .finally(() => {
            this.#syncing -= batch.length;
            this.#durable.delete(acknowledged);
          });
        this.#durable.add(acknowledged);
      } catch (err) {
        failed(err);
      }
    }
    this.#running = null;
  }
}
