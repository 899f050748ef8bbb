import type { Writable } from 'node:stream';
import { DomainError } from '../errors.ts';
import { type LogFilter, matches, toRecord } from './lines.ts';
import type { LogLinesTable } from './tables.ts';

export interface FollowOptions {
  /** How often an idle stream gets a `: keepalive` comment, so proxies keep it open. */
  keepaliveMs?: number;
  /** Frames held for a socket that is not draining; one more and the stream is closed. */
  maxPending?: number;
  /** Bytes of frames held for a socket that is not draining; one more and the stream is closed. */
  maxPendingBytes?: number;
  /** How long a closed slow reader gets to take the rest before its socket is cut. */
  closeGraceMs?: number;
  /** Streams one owner (user or token) may hold open at once. */
  maxPerOwner?: number;
  /** Streams open at once on this server. */
  maxTotal?: number;
}

/** Why a stream was closed by the server, sent as `event: closed` before the end. */
export const slowReaderReason = 'reader too slow';

/** A follow refused because its owner or the server holds as many streams as allowed. */
export class TooManyFollowers extends DomainError {
  constructor(message: string) {
    super('rate_limited', message, { 'retry-after': '5' });
  }
}

/** One server-sent-events stream of new matching lines. */
export class Follower {
  readonly #hub: LogHub;
  readonly #filter: LogFilter;
  readonly #out: Writable;
  readonly #maxPending: number;
  readonly #maxPendingBytes: number;
  readonly #closeGraceMs: number;
  readonly #keepalive: NodeJS.Timeout;
  readonly owner: string;
  #pending: string[] = [];
  #pendingBytes = 0;
  #waiting = false;
  #closed = false;

  constructor(hub: LogHub, filter: LogFilter, out: Writable, opts: FollowOptions, owner: string) {
    this.#hub = hub;
    this.#filter = filter;
    this.#out = out;
    this.owner = owner;
    this.#maxPending = opts.maxPending ?? 1000;
    this.#maxPendingBytes = opts.maxPendingBytes ?? 1024 * 1024;
    this.#closeGraceMs = opts.closeGraceMs ?? 5000;
    this.#keepalive = setInterval(() => {
      if (!this.#waiting) this.#write(': keepalive\n\n');
    }, opts.keepaliveMs ?? 15_000);
    this.#keepalive.unref();
    out.once('close', () => this.close());
    out.once('error', () => this.close());
  }

  /** Bytes of frames held for a socket that is not draining. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  offer(row: LogLinesTable): void {
    if (this.#closed || !matches(this.#filter, row)) return;
    const frame = `event: line\ndata: ${JSON.stringify(toRecord(row))}\n\n`;
    if (!this.#waiting) {
      this.#write(frame);
      return;
    }
    // A reader that cannot keep up is closed rather than buffered for: it can search the gap.
    if (this.#pending.length >= this.#maxPending || this.#pendingBytes + frame.length > this.#maxPendingBytes) {
      this.close(slowReaderReason);
      return;
    }
    this.#pending.push(frame);
    this.#pendingBytes += frame.length;
  }

  /**
   * Ends the stream; the client sees the response end, after an `event: closed` naming the reason when
   * the server chose to. A socket that still does not take it is cut after the grace time.
   */
  close(reason?: string): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#keepalive);
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#hub.remove(this);
    const out = this.#out;
    if (out.writableEnded || out.destroyed) return;
    if (reason) out.write(`event: closed\ndata: ${JSON.stringify({ reason })}\n\n`);
    out.end();
    if (reason && !out.writableFinished) {
      const cut = setTimeout(() => out.destroy(), this.#closeGraceMs);
      cut.unref();
      out.once('close', () => clearTimeout(cut));
    }
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
    const chunk = this.#pending.join('');
    this.#pending = [];
    this.#pendingBytes = 0;
    if (chunk) this.#write(chunk);
  }
}

/** How many delivered line ids are remembered, so a line fetched twice (notice and catch-up) is sent once. */
const rememberedIds = 50_000;

/**
 * Fan-out of newly stored lines to the followers whose filter they match: lines stored here at once,
 * lines stored by other replicas as `deliver` brings them (logs/cluster-follow.ts).
 */
export class LogHub {
  readonly #followers = new Set<Follower>();
  readonly #opts: FollowOptions;
  readonly #delivered = new Set<string>();
  #announce: ((rows: LogLinesTable[]) => void) | undefined;

  constructor(opts: FollowOptions = {}) {
    this.#opts = opts;
  }

  get size(): number {
    return this.#followers.size;
  }

  /** Bytes held for all followers whose sockets are not draining. */
  get pendingBytes(): number {
    let total = 0;
    for (const follower of this.#followers) total += follower.pendingBytes;
    return total;
  }

  /** Throws TooManyFollowers when `owner` or the server already holds as many streams as allowed. */
  admit(owner: string): void {
    const maxTotal = this.#opts.maxTotal ?? 256;
    const maxPerOwner = this.#opts.maxPerOwner ?? 8;
    if (this.#followers.size >= maxTotal) {
      throw new TooManyFollowers(`the server holds ${maxTotal} log-follow streams, its most; try again later`);
    }
    let mine = 0;
    for (const follower of this.#followers) if (follower.owner === owner) mine++;
    if (mine >= maxPerOwner) {
      throw new TooManyFollowers(
        `at most ${maxPerOwner} log-follow streams may be open at once per user or token; close one first`,
      );
    }
  }

  /**
   * Starts an event stream on `out` (headers already sent) with the `: connected` comment; call
   * `admit(owner)` first, with no await in between.
   */
  follow(filter: LogFilter, out: Writable, owner = ''): Follower {
    const follower = new Follower(this, filter, out, this.#opts, owner);
    this.#followers.add(follower);
    out.write(': connected\n\n');
    return follower;
  }

  /** Lines this replica stored: to its followers now, and announced to the other replicas. */
  publish(rows: LogLinesTable[]): void {
    this.deliver(rows);
    this.#announce?.(rows);
  }

  /** Sets who tells the other replicas about lines stored here. */
  announceWith(announce: ((rows: LogLinesTable[]) => void) | undefined): void {
    this.#announce = announce;
  }

  /** Offers lines to the followers, skipping any already offered. */
  deliver(rows: LogLinesTable[]): void {
    if (this.#followers.size === 0) return;
    for (const row of rows) {
      if (this.#delivered.has(row.id)) continue;
      this.#remember(row.id);
      for (const follower of this.#followers) follower.offer(row);
    }
  }

  #remember(id: string): void {
    this.#delivered.add(id);
    if (this.#delivered.size <= rememberedIds) return;
    // Sets keep insertion order: the oldest go first.
    for (const old of this.#delivered) {
      this.#delivered.delete(old);
      if (this.#delivered.size <= rememberedIds * 0.9) break;
    }
  }

  remove(follower: Follower): void {
    this.#followers.delete(follower);
  }

  closeAll(): void {
    for (const follower of [...this.#followers]) follower.close();
  }
}
