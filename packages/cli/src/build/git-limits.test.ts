import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeTempDir } from '../../../server/test/support/temp-dir.ts';
import { directoryBytes, treeCounter } from './git-limits.ts';

describe('treeCounter', () => {
  it('counts every entry of a listing far longer than the output a process keeps, split anywhere', () => {
    const entries = Array.from(
      { length: 30_000 },
      (_, i) => `100644 blob ${'a'.repeat(40)} ${String(i).padStart(7)}\tconf/é/${'x'.repeat(60)}${i}.conf\x00`,
    );
    const listing = Buffer.from(entries.join(''));
    expect(listing.length).toBeGreaterThan(3 * 1024 * 1024);
    const counter = treeCounter();
    // Odd chunk sizes split entries, sizes and the two-byte é.
    for (let at = 0; at < listing.length; at += 65_537) counter.push(listing.subarray(at, at + 65_537));
    expect(counter.result()).toEqual({ files: 30_000, bytes: (29_999 * 30_000) / 2 });
  });

  it('counts submodule entries as files without a size', () => {
    const counter = treeCounter();
    counter.push(
      Buffer.from(
        `160000 commit ${'b'.repeat(40)}       -\tvendor/lib\x00100644 blob ${'c'.repeat(40)}      12\ta\x00`,
      ),
    );
    expect(counter.result()).toEqual({ files: 2, bytes: 12 });
  });
});

describe('directoryBytes', () => {
  it('sums the files below a directory, and is 0 for one that is not there', () => {
    const dir = makeTempDir('flotilla-dir-bytes-');
    mkdirSync(join(dir, 'a/b'), { recursive: true });
    writeFileSync(join(dir, 'a/one'), 'x'.repeat(1000));
    writeFileSync(join(dir, 'a/b/two'), 'y'.repeat(234));
    expect(directoryBytes(dir)).toBe(1234);
    expect(directoryBytes(join(dir, 'missing'))).toBe(0);
  });
});
