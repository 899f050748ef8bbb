// Streams captured lines of services (all but those whose manifest says `uploadLogs: false`) to the
// server in batches. A buffer bounded in lines and bytes holds lines through a server outage; when it is
// full the oldest are dropped, counted and reported. Batches stay below the server's body limit; every
// line the agent gives up on (buffer full, refused by the server, too large to send) is counted as dropped.
import type { AgentLogLine } from '@flotilla/protocol';
import { LineBuffer } from '../logs/line-buffer.ts';
import type { AgentApi } from './api.ts';
import { ApiError, isTransient } from './api.ts';
import { backoffDelay, sleep } from './backoff.ts';

/** The server takes batches up to 8 MiB; the rest is room for the batch's own fields. */
export const defaultMaxBatchBytes = 8 * 1024 * 1024 - 512 * 1024;
/** Bytes of serialized lines waiting in memory, at most (the agent's `--log-buffer-mb`). */
export const defaultMaxBufferBytes = 4 * 1024 * 1024;
/** The server refuses a message longer than this (the agent's line splitter keeps lines shorter). */
const maxMessageLength = 65_536;
/** The longest `Retry-After` honoured; a longer one is capped so the agent tries again eventually. */
const maxRetryAfterMs = 600_000;

export interface LogUploaderOptions {
  api: AgentApi;
  instanceId: string;
  /** Lines waiting in memory, at most. */
  capacity?: number;
  /** Bytes of serialized lines waiting in memory, at most. */
  maxBufferBytes?: number;
  batchSize?: number;
  /** Serialized bytes of a batch's lines, at most. */
  maxBatchBytes?: number;
  flushIntervalMs?: number;
  onError?: (err: unknown) => void;
}

export class LogUploader {
  readonly #opts: Required<Omit<LogUploaderOptions, 'onError'>> & Pick<LogUploaderOptions, 'onError'>;
  /** Each line serialized as JSON and followed by a comma: a batch is their bytes back to back. */
  readonly #buffer: LineBuffer;
  /** Lines taken from the buffer and not yet accepted, oldest first, and the size of each. */
  #held: Buffer = Buffer.alloc(0);
  #heldSizes: number[] = [];
  /** At most this many lines in the next batch, after a 413 (halved until one is taken). */
  #splitTo = Number.POSITIVE_INFINITY;
  /** Lines given up on outside the buffer: refused by the server or too large to send. */
  #lost = 0;
  #truncated = 0;
  #reportedDrops = 0;
  #pausedUntil = 0;
  /** Until then a full batch does not cut the wait short: the server asked to wait, or sending failed. */
  #wakeableAt = 0;
  #wake: (() => void) | null = null;
  #stop = new AbortController();
  #loop: Promise<void> | null = null;
  #uploaded = 0;

  constructor(opts: LogUploaderOptions) {
    this.#opts = {
      capacity: 20_000,
      maxBufferBytes: defaultMaxBufferBytes,
      batchSize: 1000,
      maxBatchBytes: defaultMaxBatchBytes,
      flushIntervalMs: 1000,
      ...opts,
    };
    this.#buffer = new LineBuffer({
      maxLines: this.#opts.capacity,
      maxBytes: this.#opts.maxBufferBytes,
      separator: 0x2c,
    });
  }

  get pending(): number {
    return this.#buffer.size + this.#heldSizes.length;
  }

  /** Bytes of the lines waiting in the buffer (not counting the batch being sent). */
  get bufferedBytes(): number {
    return this.#buffer.bytes;
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

  /** Serializes the line at once, so only its bytes wait (see LineBuffer). */
  push(line: AgentLogLine): void {
    const json = this.#fit(line);
    if (json === null) this.#lost++;
    else this.#buffer.push(json);
    // While the server has asked to wait (429) or is failing, a full batch waits too; the buffer bounds the wait.
    if (this.#buffer.size >= this.#opts.batchSize && Date.now() >= this.#wakeableAt) this.#wake?.();
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
      // Lines arriving during an outage must not turn the backoff into a retry per burst of output.
      this.#wakeableAt = failures === 0 ? this.#pausedUntil : Date.now() + waitMs;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs).unref();
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
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
    if (this.#heldSizes.length === 0) {
      const taken = this.#buffer.take(this.#opts.batchSize);
      this.#held = taken.data;
      this.#heldSizes = taken.sizes;
    }
    if (this.#heldSizes.length === 0) return;
    const { count, bytes } = this.#batch();
    // The objects live only while the request is built; the held lines stay bytes.
    const lines = JSON.parse(`[${this.#held.toString('utf8', 0, bytes - 1)}]`) as AgentLogLine[];
    const dropped = this.dropped - this.#reportedDrops;
    try {
      await this.#opts.api.uploadLogs(
        { instanceId: this.#opts.instanceId, lines, ...(dropped > 0 ? { dropped } : {}) },
        signal,
      );
    } catch (err) {
      this.#refused(err, count, bytes);
      throw err;
    }
    this.#reportedDrops += dropped;
    this.#uploaded += count;
    this.#release(count, bytes);
    this.#splitTo = Number.POSITIVE_INFINITY;
  }

  /** How many of the oldest held lines fit in one batch by serialized size, and their bytes; always one at least. */
  #batch(): { count: number; bytes: number } {
    let bytes = 0;
    let count = 0;
    for (const size of this.#heldSizes) {
      if (count >= this.#splitTo) break;
      if (count > 0 && bytes + size > this.#opts.maxBatchBytes) break;
      bytes += size;
      count++;
    }
    return { count, bytes };
  }

  /** Forgets the oldest `count` held lines (`bytes` long). */
  #release(count: number, bytes: number): void {
    this.#heldSizes.splice(0, count);
    this.#held = this.#heldSizes.length === 0 ? Buffer.alloc(0) : this.#held.subarray(bytes);
  }

  /**
   * The line as JSON, its message shortened to what the server and one batch take (with the comma that
   * follows it in a batch); null if even that cannot fit. One serialization for the usual line.
   */
  #fit(line: AgentLogLine): string | null {
    let message = line.message;
    if (message.length > maxMessageLength) message = cut(message, maxMessageLength);
    let json = JSON.stringify(message === line.message ? line : { ...line, message });
    // UTF-8 takes at most 3 bytes per UTF-16 unit: the usual line needs no byte count here.
    const over =
      json.length * 3 + 1 > this.#opts.maxBatchBytes ? Buffer.byteLength(json) + 1 - this.#opts.maxBatchBytes : 0;
    // Each character takes at least one byte serialized, so dropping `over` of them is enough.
    if (over > 0) {
      message = cut(message, message.length - over);
      json = JSON.stringify({ ...line, message });
      if (Buffer.byteLength(json) + 1 > this.#opts.maxBatchBytes) return null;
    }
    if (message !== line.message) this.#truncated++;
    return json;
  }

  /** What a refused batch means for the lines in it. */
  #refused(err: unknown, count: number, bytes: number): void {
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
    this.#release(count, bytes);
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
