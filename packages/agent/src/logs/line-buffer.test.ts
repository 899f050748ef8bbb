import { describe, expect, it } from 'vitest';
import { LineBuffer } from './line-buffer.ts';

/** The lines in a take, as text. */
function lines(buf: LineBuffer, max = Number.POSITIVE_INFINITY): string[] {
  const { data, sizes } = buf.take(max);
  const out: string[] = [];
  let at = 0;
  for (const size of sizes) {
    out.push(data.toString('utf8', at, at + size));
    at += size;
  }
  expect(at).toBe(data.length);
  return out;
}

describe('LineBuffer', () => {
  it('takes in order, at most max at a time', () => {
    const buf = new LineBuffer({ maxLines: 10, maxBytes: 1000 });
    for (let i = 0; i < 5; i++) buf.push(`line ${i}`);
    expect(buf.bytes).toBe(30);
    expect(lines(buf, 2)).toEqual(['line 0', 'line 1']);
    expect(buf.size).toBe(3);
    expect(buf.bytes).toBe(18);
    expect(lines(buf)).toEqual(['line 2', 'line 3', 'line 4']);
    expect(lines(buf, 5)).toEqual([]);
    expect(buf.bytes).toBe(0);
    expect(buf.dropped).toBe(0);
  });

  it('drops the oldest lines when the line count is reached and counts them', () => {
    const buf = new LineBuffer({ maxLines: 3, maxBytes: 1000 });
    for (const s of ['a', 'b', 'c', 'd', 'e']) buf.push(s);
    expect(buf.dropped).toBe(2);
    expect(buf.size).toBe(3);
    expect(lines(buf, 10)).toEqual(['c', 'd', 'e']);
    buf.push('f');
    expect(lines(buf, 1)).toEqual(['f']);
    expect(buf.dropped).toBe(2);
  });

  it('drops the oldest lines when the byte budget is reached and counts them', () => {
    const buf = new LineBuffer({ maxLines: 1000, maxBytes: 25 });
    for (const s of ['aaaaaaaaaa', 'bbbbbbbbbb', 'cccccccccc']) buf.push(s);
    // 30 bytes do not fit in 25: the oldest goes.
    expect(buf.dropped).toBe(1);
    expect(buf.bytes).toBe(20);
    buf.push('dddd');
    expect(buf.bytes).toBe(24);
    buf.push('ee');
    expect(buf.dropped).toBe(2);
    expect(lines(buf)).toEqual(['cccccccccc', 'dddd', 'ee']);
  });

  it('drops and counts a line larger than the whole budget, keeping the others', () => {
    const buf = new LineBuffer({ maxLines: 10, maxBytes: 8 });
    buf.push('ok');
    buf.push('x'.repeat(9));
    expect(buf.dropped).toBe(1);
    expect(lines(buf)).toEqual(['ok']);
  });

  it('counts bytes, not characters, and keeps multi-byte text whole across storage chunks', () => {
    const buf = new LineBuffer({ maxLines: 100_000, maxBytes: 1024 * 1024 });
    const text = (i: number) => `ünïcødé ${i} ${'€'.repeat(i % 50)} 🚀`;
    let expected = 0;
    for (let i = 0; i < 5000; i++) {
      buf.push(text(i));
      expected += Buffer.byteLength(text(i));
    }
    expect(buf.bytes).toBe(expected);
    expect(buf.bytes).toBeGreaterThan(128 * 1024);
    const all = [...lines(buf, 2500), ...lines(buf)];
    expect(all).toEqual(Array.from({ length: 5000 }, (_, i) => text(i)));
  });

  it('stays within its budgets over many pushes and takes', () => {
    const buf = new LineBuffer({ maxLines: 100, maxBytes: 4096 });
    let taken = 0;
    for (let i = 0; i < 20_000; i++) {
      buf.push(`line ${i} ${'x'.repeat(i % 200)}`);
      expect(buf.size).toBeLessThanOrEqual(100);
      expect(buf.bytes).toBeLessThanOrEqual(4096);
      if (i % 7 === 0) taken += lines(buf, 3).length;
    }
    const rest = lines(buf);
    expect(rest.at(-1)).toBe(`line 19999 ${'x'.repeat(19_999 % 200)}`);
    expect(taken + rest.length + buf.dropped).toBe(20_000);
  });

  it('stores a separator after each line, counted in its size', () => {
    const buf = new LineBuffer({ maxLines: 10, maxBytes: 9, separator: 0x2c });
    for (const s of ['"a"', '"bb"', '"ccc"']) buf.push(s);
    // 4, 5 and 6 bytes with their commas: the last two alone are 11 bytes, more than 9.
    expect(buf.dropped).toBe(2);
    const { data, sizes } = buf.take(10);
    expect(sizes).toEqual([6]);
    expect(data.toString()).toBe('"ccc",');
    buf.push('"d"');
    buf.push('"e"');
    const both = buf.take(10).data.toString();
    expect(JSON.parse(`[${both.slice(0, -1)}]`)).toEqual(['d', 'e']);
  });

  it('rejects non-positive bounds', () => {
    expect(() => new LineBuffer({ maxLines: 0, maxBytes: 10 })).toThrow(RangeError);
    expect(() => new LineBuffer({ maxLines: 10, maxBytes: 0.5 })).toThrow(RangeError);
  });
});
