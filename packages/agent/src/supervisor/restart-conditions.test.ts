import { describe, expect, it } from 'vitest';
import { ConditionTracker } from './restart-conditions.ts';

const mb = 1024 * 1024;

describe('ConditionTracker', () => {
  it('is inactive without limits', () => {
    const tracker = new ConditionTracker({});
    expect(tracker.active).toBe(false);
    expect(tracker.evaluate({ atMs: 0, rssBytes: 10_000 * mb, cpuTicks: 0 })).toBeNull();
  });

  it('fires memory as soon as a sample is above maxMemoryMB', () => {
    const tracker = new ConditionTracker({ maxMemoryMB: 100 });
    expect(tracker.evaluate({ atMs: 0, rssBytes: 100 * mb, cpuTicks: 0 })).toBeNull();
    expect(tracker.evaluate({ atMs: 1000, rssBytes: 100 * mb + 1, cpuTicks: 0 })).toBe('memory');
  });

  it('fires cpu only after usage stayed above percents for durationSec', () => {
    const tracker = new ConditionTracker({ maxCpu: { percents: 50, durationSec: 2 } });
    // 100 ticks per second = 100% of one core.
    expect(tracker.evaluate({ atMs: 0, rssBytes: 0, cpuTicks: 0 })).toBeNull();
    expect(tracker.evaluate({ atMs: 1000, rssBytes: 0, cpuTicks: 80 })).toBeNull();
    expect(tracker.lastCpuPercent).toBeCloseTo(80);
    expect(tracker.evaluate({ atMs: 2000, rssBytes: 0, cpuTicks: 160 })).toBe('cpu');
  });

  it('restarts the cpu window when usage drops, and ignores negative deltas', () => {
    const tracker = new ConditionTracker({ maxCpu: { percents: 50, durationSec: 2 } });
    tracker.evaluate({ atMs: 0, rssBytes: 0, cpuTicks: 0 });
    expect(tracker.evaluate({ atMs: 1000, rssBytes: 0, cpuTicks: 90 })).toBeNull();
    expect(tracker.evaluate({ atMs: 2000, rssBytes: 0, cpuTicks: 100 })).toBeNull(); // 10%: window reset
    expect(tracker.evaluate({ atMs: 3000, rssBytes: 0, cpuTicks: 190 })).toBeNull();
    expect(tracker.evaluate({ atMs: 4000, rssBytes: 0, cpuTicks: 20 })).toBeNull(); // a member exited
    expect(tracker.lastCpuPercent).toBe(0);
    expect(tracker.evaluate({ atMs: 5000, rssBytes: 0, cpuTicks: 110 })).toBeNull();
    expect(tracker.evaluate({ atMs: 7000, rssBytes: 0, cpuTicks: 290 })).toBe('cpu');
  });
});
