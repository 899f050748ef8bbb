import { describe, expect, it } from 'vitest';
import { LineBuffer } from './line-buffer.ts';

describe('LineBuffer', () => {
  it('drains in order, at most max at a time', () => {
    const buf = new LineBuffer<number>(10);
    for (let i = 0; i < 5; i++) buf.push(i);
    expect(buf.drain(2)).toEqual([0, 1]);
    expect(buf.size).toBe(3);
    expect(buf.drain()).toEqual([2, 3, 4]);
    expect(buf.drain(5)).toEqual([]);
    expect(buf.dropped).toBe(0);
  });

  it('drops the oldest entries when full and counts them', () => {
    const buf = new LineBuffer<string>(3);
    for (const s of ['a', 'b', 'c', 'd', 'e']) buf.push(s);
    expect(buf.dropped).toBe(2);
    expect(buf.size).toBe(3);
    expect(buf.drain(10)).toEqual(['c', 'd', 'e']);
    buf.push('f');
    expect(buf.drain(1)).toEqual(['f']);
    expect(buf.dropped).toBe(2);
  });

  it('stays bounded over many pushes', () => {
    const buf = new LineBuffer<number>(100);
    for (let i = 0; i < 10_000; i++) buf.push(i);
    expect(buf.size).toBe(100);
    expect(buf.dropped).toBe(9900);
    expect(buf.drain(1)).toEqual([9900]);
  });

  it('rejects a non-positive capacity', () => {
    expect(() => new LineBuffer(0)).toThrow(RangeError);
  });
});
