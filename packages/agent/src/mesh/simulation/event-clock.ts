import type { MeshClock } from '../contracts.ts';

// A discrete-event clock: timers sit in a binary heap ordered by (time, insertion) and run in order as
// simulated time advances. Deterministic: equal times run in the order they were scheduled.

interface Timer {
  at: number;
  order: number;
  run: () => void;
  cancelled: boolean;
}

export interface EventClock extends MeshClock {
  /** Runs every timer due up to `time` (inclusive), advancing now() as it goes. */
  runUntil(time: number): void;
  /** Runs for `ms` of simulated time from now. */
  advance(ms: number): void;
  /** Runs until `done()` holds (checked every `checkEveryMs`) or `limitMs` pass; returns whether it held. */
  runUntilTrue(done: () => boolean, limitMs: number, checkEveryMs?: number): boolean;
  pending(): number;
}

export function createEventClock(start = 0): EventClock {
  const heap: Timer[] = [];
  let now = start;
  let order = 0;

  const before = (x: Timer, y: Timer): boolean => x.at < y.at || (x.at === y.at && x.order < y.order);
  const push = (timer: Timer): void => {
    heap.push(timer);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i] as Timer, heap[parent] as Timer)) break;
      [heap[i], heap[parent]] = [heap[parent] as Timer, heap[i] as Timer];
      i = parent;
    }
  };
  const pop = (): Timer | undefined => {
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && before(heap[l] as Timer, heap[m] as Timer)) m = l;
        if (r < heap.length && before(heap[r] as Timer, heap[m] as Timer)) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m] as Timer, heap[i] as Timer];
        i = m;
      }
    }
    return top;
  };

  const runUntil = (time: number): void => {
    while (heap.length > 0 && (heap[0] as Timer).at <= time) {
      const timer = pop() as Timer;
      if (timer.cancelled) continue;
      now = timer.at;
      timer.run();
    }
    now = Math.max(now, time);
  };

  return {
    now: () => now,
    setTimeout(run, ms) {
      const timer: Timer = { at: now + Math.max(0, ms), order: order++, run, cancelled: false };
      push(timer);
      return timer;
    },
    clearTimeout(handle) {
      if (handle && typeof handle === 'object') (handle as Timer).cancelled = true;
    },
    runUntil,
    advance: (ms) => runUntil(now + ms),
    runUntilTrue(done, limitMs, checkEveryMs = 100) {
      const end = now + limitMs;
      while (now < end) {
        if (done()) return true;
        runUntil(Math.min(end, now + checkEveryMs));
      }
      return done();
    },
    pending: () => heap.length,
  };
}
