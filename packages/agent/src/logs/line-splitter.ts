/** Longest line kept; the rest of a longer line is dropped up to its newline. */
export const maxLineBytes = 64 * 1024;

/**
 * Splits a byte stream into lines: keeps a partial last line until the next chunk (or `end()`), and cuts
 * lines longer than `maxBytes`, so a service that never prints a newline cannot grow the agent's memory.
 * A chunk is not kept after `write` returns (a partial line is copied), so the caller may reuse it.
 */
export class LineSplitter {
  readonly #emit: (line: string, truncated: boolean) => void;
  readonly #maxBytes: number;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #skipping = false;

  constructor(emit: (line: string, truncated: boolean) => void, maxBytes = maxLineBytes) {
    this.#emit = emit;
    this.#maxBytes = maxBytes;
  }

  write(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl === -1 ? chunk.length : nl;
      if (!this.#skipping) {
        // The usual case, a whole line within the chunk, is decoded in place without copies.
        if (nl !== -1 && this.#pendingBytes === 0 && end - start <= this.#maxBytes) {
          this.#emit(chunk.toString('utf8', start, end), false);
          start = nl + 1;
          continue;
        }
        this.#append(chunk.subarray(start, end));
      }
      if (nl === -1) return;
      if (!this.#skipping) this.#flush(false);
      this.#skipping = false;
      start = nl + 1;
    }
  }

  /** Emits a last line that had no newline. */
  end(): void {
    if (!this.#skipping && this.#pendingBytes > 0) this.#flush(false);
    this.#skipping = false;
  }

  #append(part: Buffer): void {
    const room = this.#maxBytes - this.#pendingBytes;
    if (part.length <= room) {
      if (part.length > 0) {
        this.#pending.push(Buffer.from(part));
        this.#pendingBytes += part.length;
      }
      return;
    }
    this.#pending.push(Buffer.from(part.subarray(0, room)));
    this.#pendingBytes += room;
    this.#flush(true);
    this.#skipping = true;
  }

  #flush(truncated: boolean): void {
    const line = Buffer.concat(this.#pending, this.#pendingBytes).toString('utf8');
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#emit(line, truncated);
  }
}
