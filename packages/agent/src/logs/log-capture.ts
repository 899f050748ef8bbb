import { join } from 'node:path';
import { LineSplitter } from './line-splitter.ts';
import { type LogLine, type LogStream, parseLogLine } from './log-line.ts';
import { RotatingFile } from './rotating-file.ts';

export const tailCapacity = 500;

/** The process that wrote a line, and the version it runs. */
export interface LineOrigin {
  pid: number | null;
  version: string | null;
}

const unknownOrigin: LineOrigin = { pid: null, version: null };

export interface LogCaptureOptions {
  name: string;
  logDir: string;
  /** Default 10; fractions allowed (tests use tiny files). */
  maxFileSizeMB?: number;
  /** Files kept including the current one (default 5). */
  maxFilesCount?: number;
  onLine?: (line: LogLine, origin: LineOrigin) => void;
  onError?: (message: string) => void;
  now?: () => number;
}

/**
 * Collects a service's output across restarts: every line goes to `<logDir>/<name>.log` (rotated),
 * to a ring buffer of the last 500 lines, and to `onLine`.
 */
export class LogCapture {
  readonly #file: RotatingFile;
  readonly #ring: string[] = [];
  #ringStart = 0;
  readonly #opts: LogCaptureOptions;
  #fileFailed = false;

  constructor(opts: LogCaptureOptions) {
    this.#opts = opts;
    this.#file = new RotatingFile(join(opts.logDir, `${opts.name}.log`), {
      maxBytes: (opts.maxFileSizeMB ?? 10) * 1024 * 1024,
      maxFiles: opts.maxFilesCount ?? 5,
    });
  }

  /** A splitter for one stream of one process; call `end()` on it when the stream closes. */
  splitter(stream: LogStream, origin: LineOrigin = unknownOrigin): LineSplitter {
    return new LineSplitter((line) => this.add(line, stream, origin));
  }

  add(raw: string, stream: LogStream, origin: LineOrigin = unknownOrigin): void {
    const parsed = parseLogLine(raw, stream, (this.#opts.now ?? Date.now)());
    this.#remember(raw);
    try {
      this.#file.write(`${raw}\n`);
      this.#fileFailed = false;
    } catch (err) {
      // Report once per failure streak (e.g. disk full), keep the service running.
      if (!this.#fileFailed) this.#opts.onError?.(`cannot write ${this.#file.path}: ${(err as Error).message}`);
      this.#fileFailed = true;
    }
    try {
      this.#opts.onLine?.(parsed, origin);
    } catch (err) {
      this.#opts.onError?.(`log line listener failed: ${(err as Error).message}`);
    }
  }

  /** The last `n` lines (at most 500), oldest first. */
  tail(n: number): string[] {
    const lines =
      this.#ring.length < tailCapacity
        ? this.#ring
        : [...this.#ring.slice(this.#ringStart), ...this.#ring.slice(0, this.#ringStart)];
    const count = Math.max(0, Math.min(Math.floor(n), lines.length));
    return count === 0 ? [] : lines.slice(lines.length - count);
  }

  close(): void {
    this.#file.close();
  }

  #remember(line: string): void {
    if (this.#ring.length < tailCapacity) {
      this.#ring.push(line);
      return;
    }
    this.#ring[this.#ringStart] = line;
    this.#ringStart = (this.#ringStart + 1) % tailCapacity;
  }
}
