// Follows a file a service writes its output into (O_APPEND), so the output outlives the agent: a new
// agent adopts the running service and goes on reading where the file ends.
import { closeSync, fstatSync, ftruncateSync, openSync, readSync } from 'node:fs';

const chunkBytes = 64 * 1024;

export class FileTail {
  readonly path: string;
  readonly #onChunk: (chunk: Buffer) => void;
  readonly #truncateAbove: number;
  #fd: number | null = null;
  #offset = 0;
  #timer: NodeJS.Timeout | null = null;

  constructor(path: string, onChunk: (chunk: Buffer) => void, opts: { truncateAboveBytes?: number } = {}) {
    this.path = path;
    this.#onChunk = onChunk;
    this.#truncateAbove = opts.truncateAboveBytes ?? 8 * 1024 * 1024;
  }

  get offset(): number {
    return this.#offset;
  }

  /** Starts reading at `from` (a byte offset, or the current end), every `intervalMs`. */
  start(from: number | 'end', intervalMs = 100): void {
    this.#fd = openSync(this.path, 'r+');
    const size = fstatSync(this.#fd).size;
    this.#offset = from === 'end' ? size : Math.min(from, size);
    this.#timer = setInterval(() => this.drain(), intervalMs);
    this.#timer.unref();
  }

  /** Reads everything written so far; empties the file once it is large and fully read. */
  drain(): void {
    if (this.#fd === null) return;
    try {
      const size = fstatSync(this.#fd).size;
      if (size < this.#offset) this.#offset = 0; // truncated by someone else
      while (this.#offset < size) {
        const buffer = Buffer.allocUnsafe(Math.min(chunkBytes, size - this.#offset));
        const n = readSync(this.#fd, buffer, 0, buffer.length, this.#offset);
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
    }
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.drain();
    if (this.#fd !== null) closeSync(this.#fd);
    this.#fd = null;
  }
}
