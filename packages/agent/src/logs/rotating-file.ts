import { closeSync, existsSync, fstatSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Appends to `path`; when the next write would pass `maxBytes`, renames `path` → `path.1` → … → `path.<maxFiles-1>`
 * (the oldest is overwritten, i.e. deleted) and starts a new `path`. `maxFiles` counts the current file too.
 * Writes are synchronous so lines keep their order and a crash loses at most the line being written.
 */
export class RotatingFile {
  readonly path: string;
  readonly #maxBytes: number;
  readonly #maxFiles: number;
  #fd: number | null = null;
  #size = 0;

  constructor(path: string, opts: { maxBytes: number; maxFiles: number }) {
    this.path = path;
    this.#maxBytes = Math.max(1, Math.floor(opts.maxBytes));
    this.#maxFiles = Math.max(1, Math.floor(opts.maxFiles));
  }

  write(text: string): void {
    // Written as a string: no intermediate Buffer per line.
    const size = Buffer.byteLength(text);
    if (this.#fd === null) this.#open();
    if (this.#size > 0 && this.#size + size > this.#maxBytes) this.#rotate();
    writeSync(this.#fd as number, text);
    this.#size += size;
  }

  close(): void {
    if (this.#fd !== null) closeSync(this.#fd);
    this.#fd = null;
  }

  #open(): void {
    mkdirSync(dirname(this.path), { recursive: true });
    this.#fd = openSync(this.path, 'a', 0o640);
    this.#size = fstatSync(this.#fd).size;
  }

  #rotate(): void {
    this.close();
    if (this.#maxFiles === 1) {
      rmSync(this.path, { force: true });
    } else {
      for (let i = this.#maxFiles - 1; i >= 1; i--) {
        const from = i === 1 ? this.path : `${this.path}.${i - 1}`;
        if (existsSync(from)) renameSync(from, `${this.path}.${i}`);
      }
    }
    this.#open();
  }
}
