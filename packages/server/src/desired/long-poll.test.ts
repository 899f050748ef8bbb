import { describe, expect, it } from 'vitest';
import { type FakeBus, joinedBuses } from '../cluster/testing.test.helper.ts';
import { DesiredNotifier, parseWait, wakeSlice } from './long-poll.ts';

describe('DesiredNotifier', () => {
  it('wakes the waiters of one environment only', async () => {
    const n = new DesiredNotifier();
    const prod = n.wait('prod', 5000);
    const test = n.wait('test', 20);
    expect(n.waiting).toBe(2);
    n.notify('prod');
    expect(await prod).toBe('changed');
    expect(await test).toBe('timeout');
    expect(n.waiting).toBe(0);
  });

  it('wakes a large fleet in slices, letting other work run between them', async () => {
    const n = new DesiredNotifier();
    const woken: number[] = [];
    const all = Array.from({ length: wakeSlice * 2 + 10 }, (_, i) => n.wait('prod', 5000).then(() => woken.push(i)));
    let between = -1;
    n.notify('prod');
    // Work queued now (a state report's I/O) runs between slices: after the second (queued before it), before the last.
    setImmediate(() => {
      between = woken.length;
    });
    await Promise.all(all);
    expect(between).toBe(wakeSlice * 2);
    expect(woken).toHaveLength(wakeSlice * 2 + 10);
    expect(n.waiting).toBe(0);
  });

  it('removes a waiter whose signal aborts', async () => {
    const n = new DesiredNotifier();
    const ac = new AbortController();
    const w = n.wait('prod', 5000, ac.signal);
    expect(n.waiting).toBe(1);
    ac.abort();
    expect(await w).toBe('aborted');
    expect(n.waiting).toBe(0);
  });

  it('releases everyone at close and refuses later waits', async () => {
    const n = new DesiredNotifier();
    const a = n.wait('a', 5000);
    const b = n.wait('b', 5000);
    n.close();
    expect(await Promise.all([a, b])).toEqual(['closed', 'closed']);
    expect(await n.wait('a', 5000)).toBe('closed');
    expect(n.waiting).toBe(0);
  });
});

describe('parseWait', () => {
  it('parses seconds, minutes and milliseconds and caps the result', () => {
    expect(parseWait('30s', 120_000)).toBe(30_000);
    expect(parseWait('2m', 120_000)).toBe(120_000);
    expect(parseWait('10m', 120_000)).toBe(120_000);
    expect(parseWait('250ms', 120_000)).toBe(250);
    expect(parseWait('soon', 120_000)).toBeUndefined();
    expect(parseWait('1h', 120_000)).toBeUndefined();
  });
});

describe('DesiredNotifier between replicas', () => {
  it('wakes the waiters of another replica, drops its caches, and rechecks after missed notices', async () => {
    const [busA, busB] = joinedBuses(2) as [FakeBus, FakeBus];
    const a = new DesiredNotifier();
    const b = new DesiredNotifier();
    const unlinkA = a.link(busA);
    const unlinkB = b.link(busB);
    const dropped: Array<string | null> = [];
    b.onChange((environment) => dropped.push(environment));

    const onA = a.wait('prod', 5000);
    const onB = b.wait('prod', 5000);
    const other = b.wait('test', 5000);
    a.notify('prod');
    expect(await onA).toBe('changed');
    expect(await onB).toBe('changed');
    expect(dropped).toEqual(['prod']);

    // A missed notice: every waiter reads again, and every cache goes.
    busB.resync(Date.now());
    expect(await other).toBe('recheck');
    expect(dropped).toEqual(['prod', null]);

    unlinkA();
    unlinkB();
    const after = b.wait('prod', 50);
    a.notify('prod');
    expect(await after).toBe('timeout');
  });
});
