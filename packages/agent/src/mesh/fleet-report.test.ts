import { describe, expect, it } from 'vitest';
import type { PairSummary } from './contracts.ts';
import { loopLagOf, reportOf, summaryQueue } from './fleet-report.ts';

const summary = (minute: number): PairSummary => ({
  from: 'a',
  to: 'b',
  phase: 'request',
  minute,
  count: 60,
  failed: 0,
  p50: 0.001,
});

describe('summary queue', () => {
  it('keeps a batch until the server takes it, and drops the oldest past the cap, counted', () => {
    const queue = summaryQueue(3);
    queue.push([summary(0), summary(60_000)]);
    expect(queue.peek(1).map((s) => s.minute)).toEqual([0]);
    expect(queue.size()).toBe(2);
    queue.push([summary(120_000), summary(180_000), summary(240_000)]);
    expect(queue.size()).toBe(3);
    expect(queue.dropped()).toBe(2);
    expect(queue.peek(10).map((s) => s.minute)).toEqual([120_000, 180_000, 240_000]);
    queue.commit(2);
    expect(queue.peek(10).map((s) => s.minute)).toEqual([240_000]);
  });
});

describe('loop lag of a report', () => {
  it('is undefined without reports, else the median mean and the highest p99 and max, in seconds', () => {
    expect(loopLagOf([])).toBeUndefined();
    const lag = (meanMs: number, p99Ms: number, maxMs: number) => ({ at: 0, meanMs, p99Ms, maxMs, stalls: 0 });
    expect(loopLagOf([lag(1, 4, 9), lag(3, 2, 5), lag(2, 8, 7)])).toEqual({ p50: 0.002, p99: 0.008, max: 0.009 });
  });

  it('goes into the report only when known', () => {
    expect(reportOf([summary(0)], undefined)).toEqual({ summaries: [summary(0)] });
    expect(reportOf([], { p50: 0, p99: 0, max: 0 }).eventLoopLag).toEqual({ p50: 0, p99: 0, max: 0 });
  });
});
