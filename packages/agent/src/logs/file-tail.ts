// Follows a file a service writes its output into (O_APPEND), so the output outlives the agent: a new
// agent adopts the running service and goes on reading where the file ends. Writes are read as they
// land (inotify through fs.watch), so a line's capture time is within milliseconds of its write.
import { closeSync, type FSWatcher, fstatSync, ftruncateSync, openSync, readSync, watch } from 'node:fs';

const chunkBytes = 64 * 1024;
/** The read buffer every tail borrows: reads are synchronous, so one serves all without an allocation per read. */
let readBuffer: Buffer | null = null;

export interface FileTailOptions {
  truncateAboveBytes?: number;
  /** Poll interval while the file is watched; a safety net for missed events (default 1000 ms). */
  watchedPollMs?: number;
  /** Poll interval when the file cannot be watched (default 100 ms). */
  pollMs?: number;
  /** Set false to poll only. */
  watch?: boolean;
}

/** Calls `onChunk` with what was written; the chunk is valid only during the call (its buffer is reused). */
export class FileTail {
  readonly path: string;
  readonly #onChunk: (chunk: Buffer) => void;
  readonly #truncateAbove: number;
  readonly #watchedPollMs: number;
  readonly #pollMs: number;
  readonly #watch: boolean;
  #fd: number | null = null;
  #offset = 0;
  #timer: NodeJS.Timeout | null = null;
  #watcher: FSWatcher | null = null;
  #scheduled = false;

  constructor(path: string, onChunk: (chunk: Buffer) => void, opts: FileTailOptions = {}) {
    this.path = path;
    this.#onChunk = onChunk;
    this.#truncateAbove = opts.truncateAboveBytes ?? 8 * 1024 * 1024;
    this.#watchedPollMs = opts.watchedPollMs ?? 1000;
    this.#pollMs = opts.pollMs ?? 100;
    this.#watch = opts.watch ?? true;
  }

  get offset(): number {
    return this.#offset;
  }

  /** True while changes are delivered by the file system (false: polling only). */
  get watching(): boolean {
    return this.#watcher !== null;
  }

  /** Starts reading at `from` (a byte offset, or the current end): on every change, and by polling. */
  start(from: number | 'end'): void {
    this.#fd = openSync(this.path, 'r+');
    const size = fstatSync(this.#fd).size;
    this.#offset = from === 'end' ? size : Math.min(from, size);
    if (this.#watch) {
      try {
        // Out of inotify watches (ENOSPC) or no inotify at all: polling alone still reads everything.
        this.#watcher = watch(this.path, { persistent: false }, () => this.#schedule());
        this.#watcher.on('error', () => this.#fallBackToPolling());
      } catch {
        this.#watcher = null;
      }
    }
    this.#poll(this.#watcher ? this.#watchedPollMs : this.#pollMs);
    // Whatever was written between the size check and the watch is read on the next turn.
    this.#schedule();
  }

  /** Reads everything written so far; empties the file once it is large and fully read. */
  drain(): void {
    if (this.#fd === null) return;
    // Borrowed, so a drain started from inside `onChunk` gets a buffer of its own.
    const buffer = readBuffer ?? Buffer.allocUnsafeSlow(chunkBytes);
    readBuffer = null;
    try {
      const size = fstatSync(this.#fd).size;
      if (size < this.#offset) this.#offset = 0; // truncated by someone else
      while (this.#offset < size) {
        const n = readSync(this.#fd, buffer, 0, Math.min(chunkBytes, size - this.#offset), this.#offset);
        if (n <= 0) break;
        this.#offset += n;
        this.#onChunk(buffer.subarray(0, n));
      }
      // The writer appends, so after truncation its next write lands at 0. A line written between
      // the read above and this call is lost: the window is one system call wide.
      if (this.#offset >= this.#truncateAbove) {
        ftruncateSync(this.#fd, 0);
        this.#offset = 0;
      }
    } catch {
      // The file went away (the service directory was removed): nothing more to read.
    } finally {
      readBuffer = buffer;
    }
  }

  stop(): void {
    this.#closeWatcher();
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.drain();
    if (this.#fd !== null) closeSync(this.#fd);
    this.#fd = null;
  }

  /** One read per event-loop turn however many writes were signalled (a chatty service writes often). */
  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.drain();
    });
  }

  #poll(intervalMs: number): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = setInterval(() => this.drain(), intervalMs);
    this.#timer.unref();
  }

  #fallBackToPolling(): void {
    this.#closeWatcher();
    if (this.#fd !== null) this.#poll(this.#pollMs);
  }

  #closeWatcher(): void {
    this.#watcher?.close();
    this.#watcher = null;
  }
}
