/** Lines waiting to be written, grouped by database, bounded in total. */
export interface LineQueue {
  readonly size: number;
  /** Adds a line; returns how many lines that database now holds, or 0 when the queue is full. */
  push(db: string, line: string): number;
  /** Puts a batch back in front of the database's queue (ignores the bound: it was counted before). */
  unshift(db: string, lines: readonly string[]): void;
  take(db: string, max: number): string[];
  /** Databases that hold lines, in insertion order. */
  databases(): string[];
  /** Empties the queue and returns how many lines it held. */
  clear(): number;
}

interface Slot {
  lines: string[];
  head: number;
}

export function createLineQueue(limit: number): LineQueue {
  const slots = new Map<string, Slot>();
  let size = 0;

  return {
    get size() {
      return size;
    },
    push(db, line) {
      if (size >= limit) return 0;
      let slot = slots.get(db);
      if (!slot) {
        slot = { lines: [], head: 0 };
        slots.set(db, slot);
      }
      slot.lines.push(line);
      size++;
      return slot.lines.length - slot.head;
    },
    unshift(db, lines) {
      const slot = slots.get(db);
      const rest = slot ? slot.lines.slice(slot.head) : [];
      slots.set(db, { lines: [...lines, ...rest], head: 0 });
      size += lines.length;
    },
    take(db, max) {
      const slot = slots.get(db);
      if (!slot) return [];
      const batch = slot.lines.slice(slot.head, slot.head + max);
      slot.head += batch.length;
      size -= batch.length;
      if (slot.head >= slot.lines.length) slots.delete(db);
      // Taking from the front by index avoids copying the rest on every batch; compact now and then.
      else if (slot.head > 1024 && slot.head * 2 > slot.lines.length) {
        slot.lines = slot.lines.slice(slot.head);
        slot.head = 0;
      }
      return batch;
    },
    databases() {
      return [...slots.keys()];
    },
    clear() {
      const n = size;
      slots.clear();
      size = 0;
      return n;
    },
  };
}

/**
 * Gives each point in the same millisecond its own nanosecond offset. InfluxDB keeps one point
 * per series and timestamp, so two identical check-ins in one millisecond would count as one.
 */
export function createOffsetAllocator(limit = 4096): (timeMs: number) => number {
  // Two generations instead of per-entry eviction: the last `limit` milliseconds are always
  // remembered, and forgetting older ones costs one allocation per `limit` new milliseconds.
  let young = new Map<number, number>();
  let old = new Map<number, number>();
  return (timeMs) => {
    const n = young.get(timeMs) ?? old.get(timeMs) ?? 0;
    if (young.size >= limit) {
      old = young;
      young = new Map();
    }
    young.set(timeMs, n + 1);
    return n % 1_000_000;
  };
}
