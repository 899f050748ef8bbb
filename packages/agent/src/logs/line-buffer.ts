/**
 * A bounded FIFO for lines waiting to be uploaded: when full, the oldest entry is dropped and counted,
 * so a slow or unreachable server never grows the agent's memory.
 */
export class LineBuffer<T> {
  readonly capacity: number;
  #items: T[] = [];
  #head = 0;
  #dropped = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer');
    this.capacity = capacity;
  }

  get size(): number {
    return this.#items.length - this.#head;
  }

  /** Entries dropped because the buffer was full, since creation. */
  get dropped(): number {
    return this.#dropped;
  }

  push(item: T): void {
    if (this.size >= this.capacity) {
      this.#head++;
      this.#dropped++;
    }
    this.#items.push(item);
    this.#compact();
  }

  /** Removes and returns up to `max` of the oldest entries. */
  drain(max = Number.POSITIVE_INFINITY): T[] {
    const count = Math.max(0, Math.min(max, this.size));
    const out = this.#items.slice(this.#head, this.#head + count);
    this.#head += count;
    this.#compact();
    return out;
  }

  #compact(): void {
    if (this.#head > 0 && this.#head >= this.#items.length / 2) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }
}
