import { appendFileSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileTail } from './file-tail.ts';

describe('FileTail', () => {
  it('reads what is appended after its start, and empties the file once it is large and read', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'flotilla-tail-')), 'live.stdout');
    writeFileSync(file, 'before start\n');
    const chunks: string[] = [];
    const tail = new FileTail(file, (c) => chunks.push(c.toString()), { truncateAboveBytes: 64 });
    tail.start('end', 60_000);
    appendFileSync(file, 'one\ntwo\n');
    tail.drain();
    expect(chunks.join('')).toBe('one\ntwo\n');
    appendFileSync(file, `${'x'.repeat(80)}\n`);
    tail.drain();
    expect(statSync(file).size).toBe(0);
    expect(tail.offset).toBe(0);
    appendFileSync(file, 'after truncation\n');
    tail.stop();
    expect(chunks.join('')).toBe(`one\ntwo\n${'x'.repeat(80)}\nafter truncation\n`);
  });
});
