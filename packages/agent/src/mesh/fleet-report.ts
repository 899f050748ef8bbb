import type { MeshLoopLag, MeshSummaryReport } from '@flotilla/protocol';
import type { PairSummary } from './contracts.ts';
import type { EventLoopLag } from './probe-types.ts';

// What waits to go to the server: the node's closed minutes, bounded. Past the cap the oldest are
// dropped and counted (the server keeps minutes, a late minute is worth less than a fresh one).

export interface SummaryQueue {
  push(summaries: PairSummary[]): void;
  /** The oldest `max` summaries, left queued until `commit`. */
  peek(max: number): PairSummary[];
  /** The first `count` summaries were accepted by the server. */
  commit(count: number): void;
  size(): number;
  /** Summaries dropped for room since the queue began. */
  dropped(): number;
}

export function summaryQueue(cap: number): SummaryQueue {
  let items: PairSummary[] = [];
  let dropped = 0;
  return {
    push(summaries) {
      items.push(...summaries);
      if (items.length > cap) {
        dropped += items.length - cap;
        items = items.slice(items.length - cap);
      }
    },
    peek: (max) => items.slice(0, max),
    commit(count) {
      items = items.slice(count);
    },
    size: () => items.length,
    dropped: () => dropped,
  };
}

/**
 * The prober thread's lag over a report's span, in seconds: the median of the per-round means (a p50
 * estimate), the highest per-round p99 and the highest maximum.
 */
export function loopLagOf(reports: EventLoopLag[]): MeshLoopLag | undefined {
  if (reports.length === 0) return undefined;
  const means = reports.map((r) => r.meanMs).sort((a, b) => a - b);
  const clamp = (ms: number) => Math.min(3600, Math.max(0, ms / 1000));
  return {
    p50: clamp(means[Math.floor((means.length - 1) / 2)] as number),
    p99: clamp(Math.max(...reports.map((r) => r.p99Ms))),
    max: clamp(Math.max(...reports.map((r) => r.maxMs))),
  };
}

/** One report body: the summaries (already bounded by the caller) and the lag, when known. */
export function reportOf(summaries: PairSummary[], lag: MeshLoopLag | undefined): MeshSummaryReport {
  return { summaries: summaries.map((s) => ({ ...s })), ...(lag ? { eventLoopLag: lag } : {}) };
}
