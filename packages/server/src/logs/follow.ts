import type { Writable } from 'node:stream';
import { type LogFilter, matches, toRecord } from './lines.ts';
import type { LogLinesTable } from './tables.ts';

export interface FollowOptions {
  /** How often an idle stream gets a `: keepalive` comment, so proxies keep it open. */
  keepaliveMs?: number;
  /** Frames held for a socket that is not draining; beyond this, lines are dropped and counted. */
  maxPending?: number;
}

/** One server-sent-events stream of new matching lines. */
export class Follower {
  readonly #hub: LogHub;
  readonly #filter: LogFilter;
  readonly #out: Writable;
  readonly #maxPending: number;
  readonly #keepalive: NodeJS.Timeout;
  #pending: string[] = [];
  #waiting = false;
  #dropped = 0;
  #closed = false;

  constructor(hub: LogHub, filter: LogFilter, out: Writable, opts: FollowOptions) {
    this.#hub = hub;
    this.#filter = filter;
    this.#out = out;
    this.#maxPending = opts.maxPending ?? 1000;
    this.#keepalive = setInterval(() => {
      if (!this.#waiting) this.#write(': keepalive\n\n');
    }, opts.keepaliveMs ?? 15_000);
    this.#keepalive.unref();
    out.once('close', () => this.close());
    out.once('error', () => this.close());
  }

  get dropped(): number {
    return this.#dropped;
  }

  offer(row: LogLinesTable): void {
    if (this.#closed || !matches(this.#filter, row)) return;
    const frame = `event: line\ndata: ${JSON.stringify(toRecord(row))}\n\n`;
    if (!this.#waiting) {
      this.#write(frame);
      return;
    }
    if (this.#pending.length < this.#maxPending) this.#pending.push(frame);
    else this.#dropped++;
  }

  /** Ends the stream; the client sees the response end. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#keepalive);
    this.#pending = [];
    this.#hub.remove(this);
    if (!this.#out.writableEnded && !this.#out.destroyed) this.#out.end();
  }

  #write(chunk: string): void {
    if (this.#closed || this.#out.destroyed) return;
    if (!this.#out.write(chunk)) {
      this.#waiting = true;
      this.#out.once('drain', () => this.#flush());
    }
  }

  #flush(): void {
    this.#waiting = false;
    // The dropped lines came after the held ones, so the notice follows them.
    let chunk = this.#pending.join('');
    this.#pending = [];
    if (this.#dropped > 0) {
      chunk += `event: dropped\ndata: ${JSON.stringify({ dropped: this.#dropped })}\n\n`;
      this.#dropped = 0;
    }
    if (chunk) this.#write(chunk);
  }
}

/** In-process fan-out of newly stored lines to the followers whose filter they match. */
export class LogHub {
  readonly #followers = new Set<Follower>();
  readonly #opts: FollowOptions;

  constructor(opts: FollowOptions = {}) {
    this.#opts = opts;
  }

  get size(): number {
    return this.#followers.size;
  }

  /** Starts an event stream on `out` (headers already sent) with the `: connected` comment. */
  follow(filter: LogFilter, out: Writable): Follower {
    const follower = new Follower(this, filter, out, this.#opts);
    this.#followers.add(follower);
    out.write(': connected\n\n');
    return follower;
  }

  publish(rows: LogLinesTable[]): void {
    if (this.#followers.size === 0) return;
    for (const follower of this.#followers) {
      for (const row of rows) follower.offer(row);
    }
  }

  remove(follower: Follower): void {
    this.#followers.delete(follower);
  }

  closeAll(): void {
    for (const follower of [...this.#followers]) follower.close();
  }
}
