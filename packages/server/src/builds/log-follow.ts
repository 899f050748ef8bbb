// `GET /api/v1/builds/:id/log?follow=1`: the log file as server-sent events, read from where the
// reader is, one bounded chunk at a time and only when its socket drains, until the job ends.
import { open } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { StringDecoder } from 'node:string_decoder';
import type { BuildJob } from '@flotilla/protocol';
import { finishedBuildStates } from '@flotilla/protocol';
import { TooManyFollowers } from '../logs/follow.ts';
import type { BuildRunner } from './runner.ts';

export interface BuildFollowOptions {
  /** Bytes read and sent at once. */
  chunkBytes?: number;
  keepaliveMs?: number;
  /** How often a follower of a job that runs elsewhere or waits in the queue looks again. */
  pollMs?: number;
  maxPerOwner?: number;
  maxTotal?: number;
}

export class BuildLogFollowers {
  readonly #runner: BuildRunner;
  readonly #opts: BuildFollowOptions;
  readonly #owners = new Map<string, number>();
  #total = 0;

  constructor(runner: BuildRunner, opts: BuildFollowOptions = {}) {
    this.#runner = runner;
    this.#opts = opts;
  }

  get size(): number {
    return this.#total;
  }

  /** Throws TooManyFollowers when `owner` or the server already holds as many streams as allowed. */
  admit(owner: string): void {
    const maxTotal = this.#opts.maxTotal ?? 256;
    const maxPerOwner = this.#opts.maxPerOwner ?? 8;
    if (this.#total >= maxTotal) {
      throw new TooManyFollowers(`the server holds ${maxTotal} build-log streams, its most; try again later`);
    }
    if ((this.#owners.get(owner) ?? 0) >= maxPerOwner) {
      throw new TooManyFollowers(`at most ${maxPerOwner} build-log streams may be open at once per user or token`);
    }
  }

  /** Streams `path` from `offset` on `out` (headers sent), ending with `event: end` and the job. */
  async follow(
    id: number,
    path: string,
    offset: number,
    out: ServerResponse,
    owner: string,
    job: () => Promise<BuildJob | undefined>,
  ): Promise<void> {
    this.#total++;
    this.#owners.set(owner, (this.#owners.get(owner) ?? 0) + 1);
    let closed = false;
    let wake: (() => void) | undefined;
    const onClose = () => {
      closed = true;
      wake?.();
    };
    out.once('close', onClose);
    // Set by every event, so one that comes between a read and the wait is not slept through.
    let dirty = false;
    const onLog = () => {
      dirty = true;
      wake?.();
    };
    this.#runner.events.on(`log:${id}`, onLog);
    this.#runner.events.on(`done:${id}`, onLog);
    const chunkBytes = this.#opts.chunkBytes ?? 64 * 1024;
    const buf = Buffer.alloc(chunkBytes);
    const decoder = new StringDecoder('utf8');
    let lastWrite = Date.now();
    const write = async (frame: string) => {
      lastWrite = Date.now();
      if (out.write(frame)) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
        out.once('drain', resolve);
      });
      wake = undefined;
    };
    try {
      await write(': connected\n\n');
      while (!closed) {
        // Asked before reading: a job that ended has all of its log in the file already.
        dirty = false;
        const running = this.#runner.isRunning(id);
        const now = running ? undefined : await job();
        const ended = now !== undefined && finishedBuildStates.includes(now.state);
        const n = await readAt(path, buf, offset);
        if (n > 0) {
          offset += n;
          await write(`event: log\ndata: ${JSON.stringify(decoder.write(buf.subarray(0, n)))}\n\n`);
          continue;
        }
        if (ended || (!running && now === undefined)) {
          await write(`event: end\ndata: ${JSON.stringify(now ?? null)}\n\n`);
          break;
        }
        if (Date.now() - lastWrite >= (this.#opts.keepaliveMs ?? 15_000)) await write(': keepalive\n\n');
        if (dirty) continue;
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, running ? (this.#opts.keepaliveMs ?? 15_000) : (this.#opts.pollMs ?? 1000)).unref();
        });
        wake = undefined;
      }
    } finally {
      this.#runner.events.off(`log:${id}`, onLog);
      this.#runner.events.off(`done:${id}`, onLog);
      out.off('close', onClose);
      this.#total--;
      const left = (this.#owners.get(owner) ?? 1) - 1;
      if (left === 0) this.#owners.delete(owner);
      else this.#owners.set(owner, left);
      if (!out.writableEnded) out.end();
    }
  }
}

/** Bytes of the file at `offset` into `buf`; 0 at its end or when it does not exist yet. */
async function readAt(path: string, buf: Buffer, offset: number): Promise<number> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(path, 'r');
    const { bytesRead } = await handle.read(buf, 0, buf.length, offset);
    return bytesRead;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  } finally {
    await handle?.close();
  }
}
