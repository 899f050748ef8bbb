// A job's log: the builder's output as it comes, up to a bound, then one marker line and nothing
// more, so a chatty build cannot fill the data directory.
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Bytes of one job's log, the marker excluded. */
export const defaultMaxLogBytes = 16 * 1024 * 1024;

export const truncatedMarker = (max: number) =>
  `\n[flotilla: the log reached ${max} bytes; the rest of the builder's output was left out]\n`;

export function buildLogPath(dataDir: string, id: number): string {
  return join(dataDir, 'builds', 'logs', `${id}.log`);
}

export class BoundedLog {
  readonly path: string;
  readonly #max: number;
  #fd: number | undefined;
  #bytes = 0;
  #truncated = false;

  constructor(path: string, max = defaultMaxLogBytes) {
    this.path = path;
    this.#max = max;
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.#fd = openSync(path, 'a', 0o600);
  }

  /** Bytes in the file. */
  get bytes(): number {
    return this.#bytes;
  }

  write(chunk: Buffer | string): void {
    if (this.#fd === undefined || this.#truncated) return;
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    const room = this.#max - this.#bytes;
    const part = buf.length <= room ? buf : buf.subarray(0, room);
    if (part.length > 0) this.#append(part);
    if (part.length < buf.length) {
      this.#truncated = true;
      this.#append(Buffer.from(truncatedMarker(this.#max)));
    }
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }

  #append(buf: Buffer): void {
    writeSync(this.#fd as number, buf);
    this.#bytes += buf.length;
  }
}
