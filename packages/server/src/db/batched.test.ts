import { describe, expect, it } from 'vitest';
import { batched } from './batched.ts';

describe('batched', () => {
  it('runs the first item alone and those arriving meanwhile together, in order', async () => {
    const runs: number[][] = [];
    const double = batched(async (items: number[]) => {
      runs.push(items);
      await new Promise((r) => setTimeout(r, 20));
      return items.map((n) => n * 2);
    });
    const results = await Promise.all([1, 2, 3, 4].map((n) => double(n)));
    expect(results).toEqual([2, 4, 6, 8]);
    expect(runs).toEqual([[1], [2, 3, 4]]);
  });

  it('caps a batch at maxItems', async () => {
    const runs: number[][] = [];
    const echo = batched(async (items: number[]) => {
      runs.push(items);
      return items;
    }, 2);
    await Promise.all([1, 2, 3, 4, 5].map((n) => echo(n)));
    expect(runs).toEqual([[1], [2, 3], [4, 5]]);
  });

  it('fails only the item that fails, retrying a failed batch one by one', async () => {
    const runs: number[][] = [];
    const check = batched(async (items: number[]) => {
      runs.push(items);
      await new Promise((r) => setTimeout(r, 5));
      if (items.includes(3)) throw new Error('three is refused');
      return items;
    });
    const results = await Promise.allSettled([1, 2, 3, 4].map((n) => check(n)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect(runs).toEqual([[1], [2, 3, 4], [2], [3], [4]]);
  });
});
