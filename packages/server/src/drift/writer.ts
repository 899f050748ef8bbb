import type { Kysely, Transaction } from 'kysely';
import type { Tables } from '../db/tables.ts';
import { Unavailable } from '../errors.ts';
import { applyReports, type IngestResult, type PreparedReport } from './store.ts';

interface Waiting {
  report: PreparedReport;
  resolve: (r: IngestResult) => void;
  reject: (err: Error) => void;
}

/**
 * Group commit of drift reports: while one transaction commits (one fsync on SQLite), new reports
 * gather and go out together in the next, so throughput grows with load and latency stays one commit.
 */
export class DriftReportWriter {
  readonly #commit: <T>(work: (tx: Transaction<Tables>) => Promise<T>) => Promise<T>;
  readonly #maxBatch: number;
  readonly #maxQueue: number;
  readonly #resolutionMs: number | undefined;
  #queue: Waiting[] = [];
  #running: Promise<void> | null = null;
  #closed = false;

  constructor(
    db: Kysely<Tables>,
    opts: {
      maxBatch?: number;
      maxQueue?: number;
      commit?: <T>(work: (tx: Transaction<Tables>) => Promise<T>) => Promise<T>;
      /** How often an unchanged row's `reported_at` is rewritten at most (see applyReports). */
      reportedAtResolutionMs?: number;
    } = {},
  ) {
    this.#commit = opts.commit ?? ((work) => db.transaction().execute(work));
    this.#maxBatch = opts.maxBatch ?? 500;
    this.#maxQueue = opts.maxQueue ?? 10_000;
    this.#resolutionMs = opts.reportedAtResolutionMs;
  }

  /** Resolves once the report is committed; refused (503) when too many wait, so memory stays bounded. */
  submit(report: PreparedReport): Promise<IngestResult> {
    if (this.#closed) return Promise.reject(new Unavailable('the server is shutting down', 5));
    if (this.#queue.length >= this.#maxQueue)
      return Promise.reject(new Unavailable('too many drift reports are waiting to be stored; try again shortly', 5));
    return new Promise<IngestResult>((resolve, reject) => {
      this.#queue.push({ report, resolve, reject });
      this.#running ??= this.#drain();
    });
  }

  /** Refuses new reports and waits for the queued ones. */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#running) await this.#running;
  }

  async #drain(): Promise<void> {
    // A SQLite commit holds the event loop while it syncs: yield before each batch so the requests
    // that arrived meanwhile are read and join it.
    for (;;) {
      await new Promise<void>((r) => setImmediate(r));
      if (this.#queue.length === 0) break;
      const batch = this.#queue.splice(0, this.#maxBatch);
      try {
        const results = await this.#commit((tx) =>
          applyReports(
            tx,
            batch.map((w) => w.report),
            this.#resolutionMs,
          ),
        );
        for (const [i, w] of batch.entries()) w.resolve(results[i] as IngestResult);
      } catch (err) {
        const failure = new Unavailable('the drift report could not be stored; try again shortly', 5);
        failure.cause = err;
        for (const w of batch) w.reject(failure);
      }
    }
    this.#running = null;
  }
}
