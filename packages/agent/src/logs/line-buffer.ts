/** Bytes of one storage chunk; records larger than this get a chunk of their own. */
const chunkBytes = 64 * 1024;
/** Emptied chunks kept for reuse: enough for a second of busy output, so steady logging allocates none. */
const maxSpareChunks = 8;

export interface LineBufferOptions {
  /** Lines held at most. */
  maxLines: number;
  /** Bytes of line text held at most (UTF-8); storage adds at most ten 64 KiB chunks. */
  maxBytes: number;
  /** A byte stored after each line and counted in its size (e.g. a comma, to join lines without copies). */
  separator?: number;
}

/** Lines taken from the buffer: their bytes back to back, and the byte size of each, oldest first. */
export interface TakenLines {
  data: Buffer;
  sizes: number[];
}

/**
 * A bounded FIFO of text lines waiting to be uploaded, bounded in lines and in bytes: when full, the
 * oldest lines are dropped and counted, so a slow or unreachable server never grows the agent's memory.
 * Lines are kept as UTF-8 in reused 64 KiB chunks outside the JavaScript heap, so thousands of waiting
 * lines are a few buffers to the garbage collector rather than thousands of objects that outlive its
 * young generation (which then grows and stays grown).
 */
export class LineBuffer {
  readonly maxLines: number;
  readonly maxBytes: number;
  readonly #separator: number | undefined;
  readonly #chunks: { buf: Buffer; end: number }[] = [];
  /** Read position in the oldest chunk. */
  #head = 0;
  /** Byte size of each held line: a ring of `maxLines` entries from `#first`. */
  readonly #sizes: Uint32Array;
  #first = 0;
  #count = 0;
  #bytes = 0;
  #dropped = 0;
  /** Emptied chunks kept for the next lines: a chunk dropped instead would linger until a full GC. */
  readonly #spares: Buffer[] = [];

  constructor(opts: LineBufferOptions) {
    for (const [name, value] of Object.entries({ maxLines: opts.maxLines, maxBytes: opts.maxBytes })) {
      if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer`);
    }
    this.maxLines = opts.maxLines;
    this.maxBytes = opts.maxBytes;
    this.#separator = opts.separator;
    this.#sizes = new Uint32Array(opts.maxLines);
  }

  /** Lines held. */
  get size(): number {
    return this.#count;
  }

  /** Bytes of the lines held. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Lines dropped since creation: the oldest when the buffer was full, and any line larger than all of it. */
  get dropped(): number {
    return this.#dropped;
  }

  push(text: string): void {
    const size = Buffer.byteLength(text) + (this.#separator === undefined ? 0 : 1);
    if (size > this.maxBytes) {
      this.#dropped++;
      return;
    }
    while (this.#count >= this.maxLines || this.#bytes + size > this.maxBytes) {
      this.#shift();
      this.#dropped++;
    }
    let tail = this.#chunks.at(-1);
    if (!tail || tail.buf.length - tail.end < size) {
      tail = { buf: this.#allocate(size), end: 0 };
      this.#chunks.push(tail);
    }
    tail.end += tail.buf.write(text, tail.end);
    if (this.#separator !== undefined) tail.buf[tail.end++] = this.#separator;
    this.#sizes[(this.#first + this.#count) % this.maxLines] = size;
    this.#count++;
    this.#bytes += size;
  }

  /** Removes up to `max` of the oldest lines and returns them as one copy. */
  take(max: number): TakenLines {
    const count = Math.max(0, Math.min(max, this.#count));
    const sizes: number[] = [];
    let total = 0;
    for (let i = 0; i < count; i++) {
      const size = this.#sizes[(this.#first + i) % this.maxLines] as number;
      sizes.push(size);
      total += size;
    }
    const data = Buffer.allocUnsafe(total);
    let at = 0;
    for (const size of sizes) {
      (this.#chunks[0] as { buf: Buffer }).buf.copy(data, at, this.#head, this.#head + size);
      at += size;
      this.#shift();
    }
    return { data, sizes };
  }

  /** Forgets the oldest line; releases its chunk once every line in it is gone. */
  #shift(): void {
    const size = this.#sizes[this.#first] as number;
    this.#first = (this.#first + 1) % this.maxLines;
    this.#count--;
    this.#bytes -= size;
    this.#head += size;
    const oldest = this.#chunks[0] as { buf: Buffer; end: number };
    if (this.#head < oldest.end) return;
    this.#head = 0;
    if (this.#chunks.length === 1) {
      oldest.end = 0;
      return;
    }
    this.#chunks.shift();
    if (oldest.buf.length === chunkBytes && this.#spares.length < maxSpareChunks) this.#spares.push(oldest.buf);
  }

  #allocate(size: number): Buffer {
    if (size > chunkBytes) return Buffer.allocUnsafeSlow(size);
    return this.#spares.pop() ?? Buffer.allocUnsafeSlow(chunkBytes);
  }
}
