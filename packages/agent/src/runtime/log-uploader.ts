// Streams captured lines of services (all but those whose manifest says `uploadLogs: false`) to the
// server in batches. A bounded buffer holds lines through a server outage; when it is full the oldest
// are dropped, counted and reported. Batches stay below the server's body limit; every line the agent
// gives up on (buffer full, refused by the server, too large to send) is counted as dropped.
import type { AgentLogLine } from '@flotilla/protocol';
import { LineBuffer } from '../logs/line-buffer.ts';
import type { AgentApi } from './api.ts';
import { ApiError, isTransient } from './api.ts';
import { backoffDelay, sleep } from './backoff.ts';

/** The server takes batches up to 8 MiB; the rest is room for the batch's own fields. */
export const defaultMaxBatchBytes = 8 * 1024 * 1024 - 512 * 1024;
/** The server refuses a message longer than this (the agent's line splitter keeps lines shorter). */
const maxMessageLength = 65_536;
/** The longest `Retry-After` honoured; a longer one is capped so the agent tries again eventually. */
const maxRetryAfterMs = 600_000;

export interface LogUploaderOptions {
  api: AgentApi;
  instanceId: string;
  capacity?: number;
  batchSize?: number;
  /** Serialized bytes of a batch's lines, at most. */
  maxBatchBytes?: number;
  flushIntervalMs?: number;
  onError?: (err: unknown) => void;
}

const lineBytes = (line: AgentLogLine) => Buffer.byteLength(JSON.stringify(line)) + 1;

export class LogUploader {
  readonly #opts: Required<Omit<LogUploaderOptions, 'onError'>> & Pick<LogUploaderOptions, 'onError'>;
  readonly #buffer: LineBuffer<AgentLogLine>;
  /** Lines taken from the buffer and not yet accepted, oldest first. */
  #held: AgentLogLine[] = [];
  /** At most this many lines in the next batch, after a 413 (halved until one is taken). */
  #splitTo = Number.POSITIVE_INFINITY;
  /** Lines given up on outside the buffer: refused by the server or too large to send. */
  #lost = 0;
  #truncated = 0;
  #reportedDrops = 0;
  #pausedUntil = 0;
  #wake: (() => void) | null = null;
  #stop = new AbortController();
  #loop: Promise<void> | null = null;
  #uploaded = 0;

  constructor(opts: LogUploaderOptions) {
    this.#opts = {
      capacity: 20_000,
      batchSize: 1000,
      maxBatchBytes: defaultMaxBatchBytes,
      flushIntervalMs: 1000,
      ...opts,
    };
    this.#buffer = new LineBuffer(this.#opts.capacity);
  }

  get pending(): number {
    return this.#buffer.size + this.#held.length;
  }

  /** Every line given up on: the buffer full, refused by the server, or too large to send. */
  get dropped(): number {
    return this.#buffer.dropped + this.#lost;
  }

  /** Lines sent with their message shortened to fit a batch. */
  get truncated(): number {
    return this.#truncated;
  }

  get uploaded(): number {
    return this.#uploaded;
  }

  push(line: AgentLogLine): void {
    this.#buffer.push(line);
    // While the server has asked to wait (429), a full batch waits too; the buffer bounds the wait.
    if (this.#buffer.size >= this.#opts.batchSize && Date.now() >= this.#pausedUntil) this.#wake?.();
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /** Stops the loop after one last attempt (bounded by `graceMs`) to send what is buffered. */
  async stop(graceMs = 3000): Promise<void> {
    this.#stop.abort();
    this.#wake?.();
    await this.#loop;
    if (this.pending > 0) {
      try {
        await this.#sendOnce(AbortSignal.timeout(graceMs));
      } catch {}
    }
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#stop.signal.aborted) {
      const waitMs = Math.max(
        this.#pausedUntil - Date.now(),
        failures === 0 ? this.#opts.flushIntervalMs : backoffDelay(failures, 1000, 30_000),
      );
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        setTimeout(resolve, waitMs).unref();
      });
      this.#wake = null;
      if (this.#stop.signal.aborted) break;
      try {
        while (this.pending > 0 && !this.#stop.signal.aborted) await this.#sendOnce(this.#stop.signal);
        failures = 0;
      } catch (err) {
        if (this.#stop.signal.aborted) break;
        this.#opts.onError?.(err);
        // A refusal was handled by #sendOnce (split or dropped): go on at the usual pace.
        failures = isTransient(err) ? failures + 1 : 0;
        await sleep(0);
      }
    }
  }

  async #sendOnce(signal: AbortSignal): Promise<void> {
    if (this.#held.length === 0) this.#held = this.#take();
    if (this.#held.length === 0) return;
    const lines = this.#batch();
    const dropped = this.dropped - this.#reportedDrops;
    try {
      await this.#opts.api.uploadLogs(
        { instanceId: this.#opts.instanceId, lines, ...(dropped > 0 ? { dropped } : {}) },
        signal,
      );
    } catch (err) {
      this.#refused(err, lines.length);
      throw err;
    }
    this.#reportedDrops += dropped;
    this.#uploaded += lines.length;
    this.#held.splice(0, lines.length);
    this.#splitTo = Number.POSITIVE_INFINITY;
  }

  /** The next lines from the buffer, each made to fit a batch on its own (or dropped and counted). */
  #take(): AgentLogLine[] {
    const taken: AgentLogLine[] = [];
    for (const line of this.#buffer.drain(this.#opts.batchSize)) {
      const fitted = this.#fit(line);
      if (fitted) taken.push(fitted);
      else this.#lost++;
    }
    return taken;
  }

  /** The oldest held lines that fit in one batch by serialized size; always at least one. */
  #batch(): AgentLogLine[] {
    let bytes = 0;
    let count = 0;
    for (const line of this.#held) {
      if (count >= this.#splitTo) break;
      const size = lineBytes(line);
      if (count > 0 && bytes + size > this.#opts.maxBatchBytes) break;
      bytes += size;
      count++;
    }
    return this.#held.slice(0, count);
  }

  /** A line whose message is shortened to what the server and one batch take; null if even that cannot fit. */
  #fit(line: AgentLogLine): AgentLogLine | null {
    let message = line.message;
    if (message.length > maxMessageLength) message = cut(message, maxMessageLength);
    let fitted = message === line.message ? line : { ...line, message };
    const over = lineBytes(fitted) - this.#opts.maxBatchBytes;
    // Each character takes at least one byte serialized, so dropping `over` of them is enough.
    if (over > 0) fitted = { ...fitted, message: cut(fitted.message, fitted.message.length - over) };
    if (lineBytes(fitted) > this.#opts.maxBatchBytes) return null;
    if (fitted !== line) this.#truncated++;
    return fitted;
  }

  /** What a refused batch means for the lines in it. */
  #refused(err: unknown, count: number): void {
    if (!(err instanceof ApiError)) return;
    if (err.status === 429 || err.status === 503) {
      // Held until the server says; lines that overflow the buffer meanwhile are counted as dropped.
      const ms = Math.min(maxRetryAfterMs, (err.retryAfter ?? 0) * 1000);
      if (ms > 0) this.#pausedUntil = Date.now() + ms;
      return;
    }
    if (isTransient(err)) return;
    if (err.status === 413 && count > 1) {
      this.#splitTo = Math.ceil(count / 2);
      return;
    }
    // A refused batch (400/403, or one line the server still finds too large) will never be taken.
    this.#held.splice(0, count);
    this.#lost += count;
    this.#splitTo = Number.POSITIVE_INFINITY;
  }
}

/** The first `length` UTF-16 units of `text`, never ending in half a surrogate pair. */
function cut(text: string, length: number): string {
  const end = Math.max(0, length);
  const code = text.charCodeAt(end - 1);
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? end - 1 : end);
}
