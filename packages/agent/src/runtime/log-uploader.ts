// Streams captured lines of services (all but those whose manifest says `uploadLogs: false`) to the
// server in batches. A bounded buffer holds lines through a server outage; when it is full the oldest
// are dropped, counted and reported.
import type { AgentLogLine } from '@flotilla/protocol';
import { LineBuffer } from '../logs/line-buffer.ts';
import type { AgentApi } from './api.ts';
import { isTransient } from './api.ts';
import { backoffDelay, sleep } from './backoff.ts';

export interface LogUploaderOptions {
  api: AgentApi;
  instanceId: string;
  capacity?: number;
  batchSize?: number;
  flushIntervalMs?: number;
  onError?: (err: unknown) => void;
}

export class LogUploader {
  readonly #opts: Required<Omit<LogUploaderOptions, 'onError'>> & Pick<LogUploaderOptions, 'onError'>;
  readonly #buffer: LineBuffer<AgentLogLine>;
  #inflight: AgentLogLine[] = [];
  #reportedDrops = 0;
  #wake: (() => void) | null = null;
  #stop = new AbortController();
  #loop: Promise<void> | null = null;
  #uploaded = 0;

  constructor(opts: LogUploaderOptions) {
    this.#opts = { capacity: 20_000, batchSize: 1000, flushIntervalMs: 1000, ...opts };
    this.#buffer = new LineBuffer(this.#opts.capacity);
  }

  get pending(): number {
    return this.#buffer.size + this.#inflight.length;
  }

  get dropped(): number {
    return this.#buffer.dropped;
  }

  get uploaded(): number {
    return this.#uploaded;
  }

  push(line: AgentLogLine): void {
    this.#buffer.push(line);
    if (this.#buffer.size >= this.#opts.batchSize) this.#wake?.();
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
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        setTimeout(resolve, failures === 0 ? this.#opts.flushIntervalMs : backoffDelay(failures, 1000, 30_000)).unref();
      });
      this.#wake = null;
      if (this.#stop.signal.aborted) break;
      try {
        while (this.pending > 0 && !this.#stop.signal.aborted) await this.#sendOnce(this.#stop.signal);
        failures = 0;
      } catch (err) {
        if (this.#stop.signal.aborted) break;
        failures++;
        this.#opts.onError?.(err);
        // A refused batch (400/403) will never be taken: drop it rather than block every later line.
        if (!isTransient(err)) this.#inflight = [];
        await sleep(0);
      }
    }
  }

  async #sendOnce(signal: AbortSignal): Promise<void> {
    if (this.#inflight.length === 0) this.#inflight = this.#buffer.drain(this.#opts.batchSize);
    if (this.#inflight.length === 0) return;
    const dropped = this.#buffer.dropped - this.#reportedDrops;
    await this.#opts.api.uploadLogs(
      { instanceId: this.#opts.instanceId, lines: this.#inflight, ...(dropped > 0 ? { dropped } : {}) },
      signal,
    );
    this.#reportedDrops += dropped;
    this.#uploaded += this.#inflight.length;
    this.#inflight = [];
  }
}
