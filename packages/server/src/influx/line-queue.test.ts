import { describe, expect, it } from 'vitest';
import { createLineQueue, createOffsetAllocator } from './line-queue.ts';

describe('createLineQueue', () => {
  it('keeps lines per database, bounded in total', () => {
    const q = createLineQueue(3);
    expect([q.push('a', 'a1'), q.push('b', 'b1'), q.push('a', 'a2'), q.push('a', 'a3')]).toEqual([1, 1, 2, 0]);
    expect(q.size).toBe(3);
    expect(q.databases()).toEqual(['a', 'b']);
    expect(q.take('a', 1)).toEqual(['a1']);
    q.unshift('a', ['a0']);
    expect(q.take('a', 10)).toEqual(['a0', 'a2']);
    expect(q.databases()).toEqual(['b']);
    expect(q.clear()).toBe(1);
    expect(q.size).toBe(0);
  });

  it('takes batches in order across compactions', () => {
    const q = createLineQueue(10_000);
    for (let i = 0; i < 5000; i++) q.push('db', String(i));
    const seen: string[] = [];
    for (let batch = q.take('db', 700); batch.length > 0; batch = q.take('db', 700)) seen.push(...batch);
    expect(seen).toEqual(Array.from({ length: 5000 }, (_, i) => String(i)));
  });
});

describe('createOffsetAllocator', () => {
  it('numbers points within one millisecond, also when times interleave', () => {
    const next = createOffsetAllocator(3);
    expect([next(5), next(5), next(6), next(5), next(7), next(5), next(6)]).toEqual([0, 1, 0, 2, 0, 3, 1]);
  });
});
