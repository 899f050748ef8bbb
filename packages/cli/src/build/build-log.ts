// The build log: every step and all command output, written to a file and hashed as it is written,
// so the provenance names exactly the bytes left on disk.
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export class BuildLog {
  readonly path: string;
  #fd: number | undefined;
  #hash = createHash('sha256');
  #bytes = 0;
  #echo: ((text: string) => void) | undefined;
  #echoOutput: ((chunk: Buffer) => void) | undefined;

  /**
   * `echo` receives the step lines, e.g. for stderr; `echoOutput` the commands' output too (a build
   * on the server, whose job log is the builder's output).
   */
  constructor(path: string, echo?: (text: string) => void, echoOutput?: (chunk: Buffer) => void) {
    this.path = path;
    mkdirSync(dirname(path), { recursive: true });
    this.#fd = openSync(path, 'w', 0o600);
    this.#echo = echo;
    this.#echoOutput = echoOutput;
  }

  write(chunk: Buffer | string): void {
    if (this.#fd === undefined) return;
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    this.#echoOutput?.(buf);
    this.#append(buf);
  }

  /** A step line: `[time] text`, also echoed. */
  line(text: string): void {
    this.#echo?.(`${text}\n`);
    this.#append(Buffer.from(`[${new Date().toISOString()}] ${text}\n`));
  }

  #append(buf: Buffer): void {
    if (this.#fd === undefined) return;
    writeSync(this.#fd, buf);
    this.#hash.update(buf);
    this.#bytes += buf.length;
  }

  /** Closes the file; returns the SHA-256 and size of everything written. */
  close(): { sha256: string; bytes: number } {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
    return { sha256: this.#hash.copy().digest('hex'), bytes: this.#bytes };
  }
}
