import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RotatingFile } from './rotating-file.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'flotilla-rotate-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('RotatingFile', () => {
  it('rotates into name.log.1 … and deletes the oldest beyond maxFiles', () => {
    const path = join(dir, 'logs', 'svc.log');
    const file = new RotatingFile(path, { maxBytes: 20, maxFiles: 3 });
    // 10 bytes per line, 2 lines per file: lines 0-1, 2-3, 4-5, 6-7, 8-9.
    for (let i = 0; i < 10; i++) file.write(`line ${i}...\n`);
    file.close();
    expect(readdirSync(join(dir, 'logs')).sort()).toEqual(['svc.log', 'svc.log.1', 'svc.log.2']);
    expect(readFileSync(path, 'utf8')).toBe('line 8...\nline 9...\n');
    expect(readFileSync(`${path}.1`, 'utf8')).toBe('line 6...\nline 7...\n');
    expect(readFileSync(`${path}.2`, 'utf8')).toBe('line 4...\nline 5...\n');
    for (const name of readdirSync(join(dir, 'logs'))) {
      expect(statSync(join(dir, 'logs', name)).size).toBeLessThanOrEqual(20);
    }
  });

  it('appends to an existing file and counts its size', () => {
    const path = join(dir, 'svc.log');
    writeFileSync(path, '0123456789012345\n');
    const file = new RotatingFile(path, { maxBytes: 20, maxFiles: 2 });
    file.write('next\n');
    file.close();
    expect(readFileSync(`${path}.1`, 'utf8')).toBe('0123456789012345\n');
    expect(readFileSync(path, 'utf8')).toBe('next\n');
  });

  it('keeps a single file when maxFiles is 1 and writes an oversized line whole', () => {
    const path = join(dir, 'svc.log');
    const file = new RotatingFile(path, { maxBytes: 8, maxFiles: 1 });
    file.write('aaaa\n');
    file.write('a much longer line\n');
    file.close();
    expect(readdirSync(dir)).toEqual(['svc.log']);
    expect(readFileSync(path, 'utf8')).toBe('a much longer line\n');
  });
});
