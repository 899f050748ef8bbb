import type { CheckinRecord } from '../checkin/record.ts';
import type { Metrics } from '../metrics/metrics.ts';
import { backoffDelay, sleep } from './backoff.ts';
import { createInfluxClient, InfluxError } from './influx-client.ts';
import { recordToLine } from './line-protocol.ts';
import { createLineQueue, createOffsetAllocator } from './line-queue.ts';
import { createRegistrar, type InfluxApp, type SinkLogger } from './registration.ts';

export type { InfluxApp, SinkLogger } from './registration.ts';

export type SinkMetrics = Pick<
  Metrics,
  'sinkQueueDepth' | 'sinkPointsWritten' | 'sinkPointsDropped' | 'sinkWriteErrors'
>;

export interface InfluxSinkOptions {
  url: string;
  user?: string;
  pass?: string;
  logger: SinkLogger;
  metrics: SinkMetrics;
  /** Most points held in memory; more are dropped. Default 100 000. */
  queueLimit?: number;
  /** Most lines per write request. Default 5000. */
  batchSize?: number;
  /** How often queued points are written when no batch is full. Default 1 s. */
  flushIntervalMs?: number;
  /** Retries of a failed write before its batch is dropped. Default 5. */
  maxRetries?: number;
  /** First retry delay; it doubles per attempt, with jitter. Default 500 ms. */
  retryBaseMs?: number;
  /** Per-request timeout. Default 10 s. */
  requestTimeoutMs?: number;
}

export interface InfluxSink {
  /** Creates the app's database and continuous queries; if InfluxDB is unreachable, keeps trying in the background. */
  registerApp(app: InfluxApp): Promise<void>;
  /** Queues a check-in; never blocks and never throws. */
  enqueue(record: CheckinRecord): void;
  /** Writes everything queued for databases that are ready. */
  flush(): Promise<void>;
  /** Stops, writes what is queued within `timeoutMs` (default 10 s) and counts the rest as dropped. */
  close(timeoutMs?: number): Promise<void>;
}

const SINK = 'influxdb';

export function createInfluxSink(options: InfluxSinkOptions): InfluxSink {
  const { logger } = options;
  const batchSize = options.batchSize ?? 5000;
  const maxRetries = options.maxRetries ?? 5;
  const retryBaseMs = options.retryBaseMs ?? 500;
  const { url, user, pass, requestTimeoutMs: timeoutMs } = options;
  const client = createInfluxClient({ url, user, pass, timeoutMs });
  const depth = options.metrics.sinkQueueDepth.labels({ sink: SINK });
  const written = options.metrics.sinkPointsWritten.labels({ sink: SINK });
  const queueFull = options.metrics.sinkPointsDropped.labels({ sink: SINK, reason: 'queue_full' });
  const writeFailed = options.metrics.sinkPointsDropped.labels({ sink: SINK, reason: 'write_failed' });
  const writeErrors = options.metrics.sinkWriteErrors.labels({ sink: SINK });

  const queueLimit = options.queueLimit ?? 100_000;
  const queue = createLineQueue(queueLimit);
  const offsetFor = createOffsetAllocator();
  // Aborted when close() runs out of time: cancels the write in flight and any backoff.
  const stop = new AbortController();
  let closing = false;
  let closed: Promise<void> | undefined;
  let pumping: Promise<void> | undefined;
  let kickScheduled = false;
  const registrar = createRegistrar({ client, logger, retryBaseMs, signal: stop.signal, onReady: kick });
  depth.set(0);

  const timer = setInterval(startPump, options.flushIntervalMs ?? 1000);
  timer.unref();

  function writable(db: string): boolean {
    return closing || !registrar.isPending(db);
  }

  function startPump(): void {
    pumping ??= pump().finally(() => {
      pumping = undefined;
    });
  }

  // Deferred so that the enqueue that fills a batch does not pay for starting the request.
  function kick(): void {
    if (kickScheduled || pumping) return;
    kickScheduled = true;
    setImmediate(() => {
      kickScheduled = false;
      startPump();
    });
  }

  async function pump(): Promise<void> {
    for (let progress = true; progress && !stop.signal.aborted; ) {
      progress = false;
      for (const db of queue.databases()) {
        if (stop.signal.aborted || !writable(db)) continue;
        const batch = queue.take(db, batchSize);
        depth.set(queue.size);
        if (batch.length === 0) continue;
        progress = true;
        await writeBatch(db, batch);
      }
    }
  }

  function drop(db: string, count: number, why: string, level: 'warn' | 'error'): void {
    writeFailed.inc(count);
    logger[level]({ db, points: count, reason: why }, `InfluxDB: dropped ${count} points: ${why}`);
  }

  async function writeBatch(db: string, batch: string[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await client.write(db, batch, stop.signal);
        written.inc(batch.length);
        return;
      } catch (err) {
        writeErrors.inc();
        const e = err instanceof InfluxError ? err : new InfluxError(String(err), { retryable: false, cause: err });
        if (e.droppedPoints !== undefined) {
          // A partial write stored the other points of the batch.
          written.inc(Math.max(0, batch.length - e.droppedPoints));
          return drop(db, Math.min(batch.length, e.droppedPoints), e.message, 'error');
        }
        if (e.databaseNotFound && !closing && registrar.recreate(db)) {
          // Someone dropped the database (or InfluxDB lost its data): it is being created again; keep the points.
          queue.unshift(db, batch);
          depth.set(queue.size);
          logger.warn({ db }, `InfluxDB: database ${db} is missing; creating it again`);
          return;
        }
        if (stop.signal.aborted) return drop(db, batch.length, 'sink closed before the write finished', 'warn');
        if (!e.retryable) return drop(db, batch.length, e.message, 'error');
        if (attempt >= maxRetries)
          return drop(db, batch.length, `${e.message} (after ${attempt + 1} attempts)`, 'warn');
        const delay = backoffDelay(attempt, retryBaseMs);
        logger.debug({ db, attempt: attempt + 1, delay, err: e.message }, 'InfluxDB write failed; retrying');
        await sleep(delay, stop.signal);
      }
    }
  }

  async function flush(): Promise<void> {
    do {
      startPump();
      await pumping;
    } while (!stop.signal.aborted && queue.databases().some(writable));
  }

  return {
    registerApp: (app) => registrar.register(app),

    enqueue(record) {
      try {
        if (closing) {
          writeFailed.inc();
          return;
        }
        if (queue.size >= queueLimit) {
          queueFull.inc();
          return;
        }
        const n = queue.push(`${record.app}_upgrade_responder`, recordToLine(record, offsetFor(record.time)));
        depth.set(queue.size);
        if (n >= batchSize) kick();
      } catch (err) {
        writeFailed.inc();
        logger.error({ err: err instanceof Error ? err.message : String(err) }, 'InfluxDB: cannot encode check-in');
      }
    },

    flush,

    close(timeoutMs = 10_000) {
      closed ??= (async () => {
        closing = true;
        clearInterval(timer);
        registrar.stop();
        const deadline = setTimeout(() => stop.abort(), timeoutMs);
        try {
          await flush();
        } finally {
          clearTimeout(deadline);
          stop.abort();
        }
        const left = queue.clear();
        depth.set(0);
        if (left > 0) drop('*', left, `still queued after ${timeoutMs} ms when closing`, 'warn');
      })();
      return closed;
    },
  };
}
