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
});
