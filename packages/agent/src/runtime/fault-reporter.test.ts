import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { x as extract } from 'tar';
import { describe, expect, it } from 'vitest';
import { makeTempDir } from '../../../server/test/support/temp-dir.ts';
import { matchCrashFiles, packFaultReport } from './fault-reporter.ts';

const input = (searchDir: string | null) => ({
  instanceId: 'host-1',
  service: 'web',
  version: '1.2.3',
  reason: 'exit',
  exitCode: 3,
  signal: null,
  state: { failureCount: 2 },
  logTail: Array.from({ length: 600 }, (_, i) => `line ${i}`),
  searchDir,
  patterns: ['core.*', 'dumps/*.heapsnapshot', '../outside*'],
});

describe('fault reports', () => {
  it('packs fault.json, the last 500 log lines and the crash files, which leave the service directory', async () => {
    const root = makeTempDir('flotilla-fault-');
    const svc = join(root, 'svc');
    mkdirSync(join(svc, 'dumps'), { recursive: true });
    writeFileSync(join(svc, 'core.123'), 'core bytes');
    writeFileSync(join(svc, 'dumps', 'a.heapsnapshot'), 'heap');
    writeFileSync(join(svc, 'keep.txt'), 'not a crash file');
    writeFileSync(join(root, 'outside-secret'), 'must not be packed');
    const archive = await packFaultReport(join(root, 'faults'), input(svc), new Date('2026-11-23T10:00:00Z'));
    expect(archive).toMatch(/2026-11-23T10-00-00-000Z-web-[0-9a-f]{6}\.tar\.gz$/);
    const out = join(root, 'out');
    mkdirSync(out);
    await extract({ file: archive, cwd: out });
    const meta = JSON.parse(readFileSync(join(out, 'fault.json'), 'utf8'));
    expect(meta).toMatchObject({ instanceId: 'host-1', service: 'web', version: '1.2.3', exitCode: 3, reason: 'exit' });
    expect(meta.files).toEqual(['core.123', 'dumps/a.heapsnapshot']);
    const tail = readFileSync(join(out, 'log-tail.txt'), 'utf8').split('\n');
    expect(tail).toHaveLength(500);
    expect(tail[0]).toBe('line 100');
    expect(readFileSync(join(out, 'files', 'core.123'), 'utf8')).toBe('core bytes');
    expect(existsSync(join(svc, 'core.123'))).toBe(false);
    expect(existsSync(join(svc, 'keep.txt'))).toBe(true);
    expect(existsSync(join(out, 'files', 'outside-secret'))).toBe(false);
    expect(readdirSync(join(root, 'faults')).filter((n) => n.startsWith('.staging'))).toEqual([]);
  });

  it('keeps the newest 20 reports', async () => {
    const root = makeTempDir('flotilla-fault-');
    for (let i = 0; i < 23; i++) {
      await packFaultReport(join(root, 'faults'), input(null), new Date(Date.UTC(2026, 0, 1, 0, 0, i)));
    }
    const kept = readdirSync(join(root, 'faults'))
      .filter((n) => n.endsWith('.tar.gz'))
      .sort();
    expect(kept).toHaveLength(20);
    expect(kept[0]).toMatch(/^2026-01-01T00-00-03/);
  });

  it('never matches files outside the directory', () => {
    const root = makeTempDir('flotilla-fault-');
    mkdirSync(join(root, 'svc'));
    writeFileSync(join(root, 'core.1'), 'x');
    expect(matchCrashFiles(join(root, 'svc'), ['../core.*', '/etc/passwd', 'core.*'])).toEqual([]);
  });
});
