import { describe, expect, it } from 'vitest';
import { RateWindow } from './rate-window.ts';

describe('RateWindow', () => {
  it('allows up to the limit per address in a window, then says how long to wait', () => {
    let now = 60_000 * 10 + 15_000;
    const limits = new RateWindow(2, 60_000, () => now);
    expect([limits.hit('a'), limits.hit('a'), limits.hit('b')]).toEqual([0, 0, 0]);
    expect(limits.hit('a')).toBe(45);
    now += 44_500;
    expect(limits.hit('a')).toBe(1);
    now += 500;
    expect(limits.hit('a')).toBe(0);
  });

  it('lets new addresses pass uncounted once the window holds maxKeys, and still limits the known ones', () => {
    const limits = new RateWindow(1, 60_000, () => 0, 2);
    expect([limits.hit('a'), limits.hit('b'), limits.hit('c'), limits.hit('c')]).toEqual([0, 0, 0, 0]);
    expect(limits.hit('a')).toBeGreaterThan(0);
  });
});
