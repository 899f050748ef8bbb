import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LogCapture } from './log-capture.ts';
import type { LogLine } from './log-line.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'flotilla-capture-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('LogCapture', () => {
  it('tails the last n of at most 500 lines, oldest first', () => {
    const capture = new LogCapture({ name: 'svc', logDir: dir });
    for (let i = 0; i < 3; i++) capture.add(`l${i}`, 'stdout');
    expect(capture.tail(2)).toEqual(['l1', 'l2']);
    expect(capture.tail(10)).toEqual(['l0', 'l1', 'l2']);
    expect(capture.tail(0)).toEqual([]);
    for (let i = 3; i < 1234; i++) capture.add(`l${i}`, 'stdout');
    const all = capture.tail(10_000);
    expect(all).toHaveLength(500);
    expect(all[0]).toBe('l734');
    expect(all[499]).toBe('l1233');
    expect(capture.tail(3)).toEqual(['l1231', 'l1232', 'l1233']);
    capture.close();
  });

  it('writes every line to a rotated <name>.log and hands parsed lines to onLine', () => {
    const seen: LogLine[] = [];
    const capture = new LogCapture({
      name: 'svc',
      logDir: dir,
      maxFileSizeMB: 1000 / (1024 * 1024),
      maxFilesCount: 3,
      onLine: (l) => seen.push(l),
    });
    const out = capture.splitter('stdout');
    for (let i = 0; i < 100; i++) out.write(Buffer.from(`2024-05-01 12:00:00.000 INFO unit message number ${i}\n`));
    capture.close();
    expect(seen).toHaveLength(100);
    expect(seen[99]).toMatchObject({ level: 'info', unit: 'unit', message: 'message number 99', stream: 'stdout' });
    expect(readdirSync(dir).sort()).toEqual(['svc.log', 'svc.log.1', 'svc.log.2']);
    const newest = readFileSync(join(dir, 'svc.log'), 'utf8').trim().split('\n');
    const older = readFileSync(join(dir, 'svc.log.1'), 'utf8').trim().split('\n');
    expect(newest.at(-1)).toMatch(/number 99$/);
    const lastOlder = Number(older.at(-1)?.split(' ').at(-1));
    const firstNewest = Number(newest[0]?.split(' ').at(-1));
    expect(firstNewest).toBe(lastOlder + 1);
  });

  it('keeps capturing when the log file cannot be written', () => {
    const errors: string[] = [];
    const seen: LogLine[] = [];
    // A log dir under a regular file cannot be created.
    const capture = new LogCapture({
      name: 'svc',
      logDir: join(dir, 'file', 'sub'),
      onError: (m) => errors.push(m),
      onLine: (l) => seen.push(l),
    });
    writeFileSync(join(dir, 'file'), 'x');
    capture.add('a', 'stdout');
    capture.add('b', 'stderr');
    expect(seen.map((l) => l.message)).toEqual(['a', 'b']);
    expect(capture.tail(2)).toEqual(['a', 'b']);
    expect(errors).toHaveLength(1);
  });
});
