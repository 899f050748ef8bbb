import { describe, expect, it } from 'vitest';
import { LineSplitter, maxLineBytes } from './line-splitter.ts';

function collect(maxBytes?: number) {
  const lines: [string, boolean][] = [];
  const splitter = new LineSplitter((line, truncated) => lines.push([line, truncated]), maxBytes);
  return { lines, splitter };
}

describe('LineSplitter', () => {
  it('joins partial lines across chunks and emits the unterminated last line on end()', () => {
    const { lines, splitter } = collect();
    splitter.write(Buffer.from('hel'));
    splitter.write(Buffer.from('lo\nwor'));
    expect(lines).toEqual([['hello', false]]);
    splitter.write(Buffer.from('ld\n\nlast'));
    splitter.end();
    expect(lines.map((l) => l[0])).toEqual(['hello', 'world', '', 'last']);
    splitter.end();
    expect(lines).toHaveLength(4);
  });

  it('keeps a multi-byte character split across chunks intact', () => {
    const { lines, splitter } = collect();
    const bytes = Buffer.from('héllo ✓\n');
    splitter.write(bytes.subarray(0, 2));
    splitter.write(bytes.subarray(2, 9));
    splitter.write(bytes.subarray(9));
    expect(lines).toEqual([['héllo ✓', false]]);
  });

  it('cuts long lines at the limit and drops the rest up to the newline', () => {
    const { lines, splitter } = collect(10);
    splitter.write(Buffer.from('0123456'));
    splitter.write(Buffer.from('789abcdef'));
    splitter.write(Buffer.from('ghij\nnext\n'));
    expect(lines).toEqual([
      ['0123456789', true],
      ['next', false],
    ]);
  });

  it('copies what it keeps, so the writer may reuse its chunk', () => {
    const { lines, splitter } = collect(10);
    const chunk = Buffer.alloc(16);
    const write = (text: string) => {
      chunk.fill(0);
      const n = chunk.write(text);
      splitter.write(chunk.subarray(0, n));
    };
    write('ab\ncd');
    write('ef\n0123456');
    write('789xyz\ngh');
    splitter.end();
    expect(lines).toEqual([
      ['ab', false],
      ['cdef', false],
      ['0123456789', true],
      ['gh', false],
    ]);
  });

  it('cuts at 64 KiB by default', () => {
    const { lines, splitter } = collect();
    splitter.write(Buffer.alloc(maxLineBytes * 3, 'a'));
    splitter.write(Buffer.from('tail\nok\n'));
    expect(lines).toHaveLength(2);
    expect(lines[0]?.[0].length).toBe(64 * 1024);
    expect(lines[0]?.[1]).toBe(true);
    expect(lines[1]).toEqual(['ok', false]);
  });
});
