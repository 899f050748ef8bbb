import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { x as extract } from 'tar';
import { describe, expect, it } from 'vitest';
import { makeTempDir } from '../../../server/test/support/temp-dir.ts';
import { AgentApi } from './api.ts';
import { matchCrashFiles, packFaultReport, uploadPendingFaults } from './fault-reporter.ts';

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

  it('keeps reports on disk and sends nothing until the Retry-After of a 429 has passed', async () => {
    const root = makeTempDir('flotilla-fault-');
    const faults = join(root, 'faults');
    for (let i = 0; i < 2; i++) await packFaultReport(faults, input(null), new Date(Date.UTC(2026, 0, 1, 0, 0, i)));
    let attempts = 0;
    let refuse = true;
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        attempts++;
        if (refuse) {
          res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '120' });
          return void res.end('{"error":{"code":"rate_limited","message":"quota"}}');
        }
        res.writeHead(201, { 'content-type': 'application/json' }).end(`{"id":"r${attempts}"}`);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const address = server.address();
      if (!address || typeof address === 'string') throw new Error('no address');
      const api = new AgentApi(`http://127.0.0.1:${address.port}`, 't');
      let clock = Date.UTC(2026, 0, 1, 1);
      const errors: unknown[] = [];
      expect(
        await uploadPendingFaults(
          faults,
          api,
          (err) => errors.push(err),
          () => clock,
        ),
      ).toBe(0);
      expect(attempts).toBe(1);
      expect((errors[0] as { retryAfter?: number }).retryAfter).toBe(120);
      refuse = false;
      clock += 119_000;
      expect(await uploadPendingFaults(faults, api, undefined, () => clock)).toBe(0);
      expect(attempts).toBe(1);
      clock += 1000;
      expect(await uploadPendingFaults(faults, api, undefined, () => clock)).toBe(2);
      expect(readdirSync(faults).filter((n) => n.endsWith('.sent'))).toHaveLength(2);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('never matches files outside the directory', () => {
    const root = makeTempDir('flotilla-fault-');
    mkdirSync(join(root, 'svc'));
    writeFileSync(join(root, 'core.1'), 'x');
    expect(matchCrashFiles(join(root, 'svc'), ['../core.*', '/etc/passwd', 'core.*'])).toEqual([]);
  });
});
