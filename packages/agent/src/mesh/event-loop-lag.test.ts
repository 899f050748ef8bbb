import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { startLagMonitor } from './event-loop-lag.ts';
import { MESH_RTT_BUCKETS } from './histogram-buckets.ts';

function block(ms: number) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // a synchronous stall of the loop
  }
}

describe('event-loop lag', () => {
  it('flags a probe that overlapped a stall, not one before or after it, and reports the delay', async () => {
    const monitor = startLagMonitor({ thresholdMs: 20 });
    const hr = () => process.hrtime.bigint();
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    try {
      await sleep(60);
      monitor.report();
      await sleep(60);
      const idleTimers = timers();

      monitor.begin();
      expect(timers()).toBe(idleTimers + 1); // the fine ticker runs only while a probe is in flight
      const quietStart = hr();
      await sleep(30);
      expect(monitor.end(quietStart, hr())).toBe(false);
      expect(timers()).toBe(idleTimers);

      monitor.begin();
      const start = hr();
      block(120);
      expect(monitor.end(start, hr())).toBe(true);

      monitor.begin();
      const after = hr();
      await sleep(30);
      expect(monitor.end(after, hr())).toBe(false);

      await sleep(100);
      const lag = monitor.report();
      expect(lag.stalls).toBe(1);
      expect(lag.maxMs).toBeGreaterThan(60);
      expect(lag.p50Ms).toBeLessThanOrEqual(lag.p99Ms);
      expect(lag.p99Ms).toBeLessThanOrEqual(lag.maxMs);
      expect(lag.at).toBeGreaterThan(0);
    } finally {
      monitor.stop();
    }
  });
});

describe('histogram buckets', () => {
  it('start at 50 µs and double up to about 26 s', () => {
    expect(MESH_RTT_BUCKETS).toHaveLength(20);
    expect(MESH_RTT_BUCKETS[0]).toBe(0.00005);
    expect(MESH_RTT_BUCKETS.filter((b) => b < 0.001)).toHaveLength(5);
    for (let i = 1; i < MESH_RTT_BUCKETS.length; i++) {
      expect((MESH_RTT_BUCKETS[i] as number) / (MESH_RTT_BUCKETS[i - 1] as number)).toBeCloseTo(2, 6);
    }
    expect(MESH_RTT_BUCKETS.at(-1)).toBeCloseTo(26.2144, 4);
  });
});
