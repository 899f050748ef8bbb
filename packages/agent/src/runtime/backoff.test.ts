import { describe, expect, it } from 'vitest';
import { backoffDelay, sleep } from './backoff.ts';

describe('backoffDelay', () => {
  it('doubles from the initial delay up to the cap, within ±20 % jitter', () => {
    const mid = () => 0.5;
    expect([0, 1, 2, 3, 10].map((a) => backoffDelay(a, 1000, 60_000, mid))).toEqual([1000, 2000, 4000, 8000, 60_000]);
    expect(backoffDelay(0, 1000, 60_000, () => 0)).toBe(800);
    expect(backoffDelay(20, 1000, 60_000, () => 0.999_999)).toBeLessThanOrEqual(72_000);
  });
});

describe('sleep', () => {
  it('ends early, without throwing, when aborted', async () => {
    const abort = new AbortController();
    const started = Date.now();
    setTimeout(() => abort.abort(), 20);
    await sleep(10_000, abort.signal);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
