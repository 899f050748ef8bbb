import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TrackerResources, VersionTracker } from '@flotilla/protocol';
import { afterAll, describe, expect, it } from 'vitest';
import { evaluateHostTracker, evaluateHostTrackers } from './host-trackers.ts';

const work = mkdtempSync(join(tmpdir(), 'flotilla-host-trackers-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const node = process.execPath;
function tracker(name: string, resources: TrackerResources, pattern?: string): VersionTracker {
  return {
    kind: 'VersionTracker',
    metadata: { name },
    spec: { name, resources, ...(pattern ? { localVersion: { extraction: { regex: { pattern } } } } : {}) },
  };
}
const command = (name: string, script: string, pattern?: string) =>
  tracker(name, { strategy: 'Command', command: [node, '-e', script] }, pattern);
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('Command trackers', () => {
  it('runs the argument list without a shell and extracts the version from stderr', async () => {
    const t = command('nginx', 'console.error("nginx version: nginx/1.25.3")', 'nginx/([0-9.]+)');
    const r = await evaluateHostTracker(t);
    expect(r).toEqual({
      subject: 'nginx',
      versions: [
        {
          runningVersion: '1.25.3',
          extractedFrom: `${node} -e ${t.spec.resources.command?.[2]}`,
          resourceKind: 'Command',
        },
      ],
      exit: { code: 0, signal: null },
    });
    // Shell syntax is just an argument: nothing expands it.
    const echo = tracker('echo', { strategy: 'Command', command: ['echo', '$HOME;', 'v1'] });
    expect((await evaluateHostTracker(echo)).versions[0]?.runningVersion).toBe('$HOME; v1');
  });

  it('gives the command only PATH and LANG=C', async () => {
    const r = await evaluateHostTracker(command('env', 'console.log(Object.keys(process.env).sort().join(","))'));
    expect(r.versions[0]?.runningVersion).toBe('LANG,LC_ALL,PATH');
  });

  it('says when a version came from a command that failed, and fails when none did', async () => {
    const r = await evaluateHostTracker(command('tool', 'console.log("tool 2.0.1"); process.exit(3)', '[0-9.]+'));
    expect(r.versions.map((v) => v.runningVersion)).toEqual(['2.0.1']);
    expect(r.exit).toEqual({ code: 3, signal: null });
    expect(r.warning).toMatch(/exited with code 3; the version was extracted/);
    expect(r.error).toBeUndefined();
    const none = await evaluateHostTracker(command('tool', 'console.log("usage"); process.exit(2)', '[0-9.]+'));
    expect(none).toMatchObject({ versions: [], error: expect.stringMatching(/exited with code 2 and no version/) });
    const missing = await evaluateHostTracker(tracker('x', { strategy: 'Command', command: ['no-such-cmd-xyz'] }));
    expect(missing.error).toBe('no-such-cmd-xyz: command not found');
  });

  it('kills a command that does not exit within the timeout', async () => {
    const pidFile = join(work, 'hang.pid');
    const script = `require("fs").writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); setInterval(() => {}, 1000)`;
    const started = Date.now();
    const r = await evaluateHostTracker(command('hang', script), { timeoutMs: 1000 });
    expect(Date.now() - started).toBeLessThan(8000);
    expect(r.error).toMatch(/no exit within 1000 ms \(killed\)/);
    expect(r.exit?.signal).toBe('SIGKILL');
    expect(alive(Number(readFileSync(pidFile, 'utf8')))).toBe(false);
  });

  it('does not wait for what the command left running with its output open', async () => {
    const started = Date.now();
    const r = await evaluateHostTracker(
      tracker('bg', { strategy: 'Command', command: ['sh', '-c', 'sleep 60 & echo v5'] }),
    );
    expect(r.versions[0]?.runningVersion).toBe('v5');
    expect(Date.now() - started).toBeLessThan(8000);
  });

  it('reads at most 64 KiB of output and stops the command', async () => {
    const big = 'process.stdout.write("version 1.2.3\\n" + "x".repeat(1 << 20)); setInterval(() => {}, 1000)';
    const r = await evaluateHostTracker(command('big', big, 'version ([0-9.]+)'), { timeoutMs: 20_000 });
    expect(r.versions.map((v) => v.runningVersion)).toEqual(['1.2.3']);
    expect(r.warning).toBe('output over 65536 bytes: only the first 65536 were read');
    expect(r.exit?.signal).toBe('SIGKILL'); // stopped, not drained until the timeout
    const none = await evaluateHostTracker(command('big', 'process.stdout.write("x".repeat(1 << 20))', 'v[0-9]+'));
    expect(none.error).toBe(
      'no version extracted from the output (output over 65536 bytes: only the first 65536 were read)',
    );
  });
});

describe('File trackers', () => {
  it('extracts a version from a regular file, through a symlink too', async () => {
    const file = join(work, 'VERSION');
    writeFileSync(file, 'NAME=app\nVERSION=2.4.1\n');
    symlinkSync(file, join(work, 'version-link'));
    for (const path of [file, join(work, 'version-link')]) {
      const r = await evaluateHostTracker(tracker('app', { strategy: 'File', path }, 'VERSION=(.+)'));
      expect(r).toEqual({
        subject: 'app',
        versions: [{ runningVersion: '2.4.1', extractedFrom: path, resourceKind: 'File' }],
      });
    }
  });

  it('reads files whose size says 0, as /proc files do', async () => {
    const r = await evaluateHostTracker(
      tracker('kernel', { strategy: 'File', path: '/proc/version' }, 'Linux version (\\S+)'),
    );
    expect(r.versions[0]?.runningVersion).toMatch(/^[0-9]+\.[0-9]+/);
  });

  it('refuses relative paths, devices, FIFOs and directories, and reports missing files', async () => {
    symlinkSync('/dev/zero', join(work, 'zero'));
    execFileSync('mkfifo', [join(work, 'fifo')]);
    mkdirSync(join(work, 'dir'));
    const cases: [string, RegExp][] = [
      ['VERSION', /not an absolute path/],
      [join(work, 'zero'), /zero: not a regular file/],
      [join(work, 'fifo'), /fifo: not a regular file/],
      [join(work, 'dir'), /dir: not a regular file/],
      [join(work, 'missing'), /missing: no such file/],
    ];
    for (const [path, error] of cases) {
      const r = await evaluateHostTracker(tracker('f', { strategy: 'File', path }));
      expect(r.versions).toEqual([]);
      expect(r.error).toMatch(error);
    }
  });

  it('reads only the first 64 KiB of a large file', async () => {
    const file = join(work, 'large');
    writeFileSync(file, `v9.8.7\n${'y'.repeat(200_000)}\nv1.0.0`);
    const r = await evaluateHostTracker(tracker('large', { strategy: 'File', path: file }, 'v[0-9.]+'));
    expect(r.versions[0]?.runningVersion).toBe('v9.8.7');
    expect(r.warning).toBe('file over 65536 bytes: only the first 65536 were read');
    // Without an extraction the whole text is the version: 64 KiB is over the value limit.
    const whole = await evaluateHostTracker(tracker('large', { strategy: 'File', path: file }));
    expect(whole.error).toMatch(/extracted value: .* limit 256/);
  });
});

describe('Package trackers', () => {
  it('reads the installed dpkg version, and says when a package is not installed', async () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's format
    const expected = execFileSync('dpkg-query', ['-W', '-f=${Version}', 'bash'], { encoding: 'utf8' });
    const r = await evaluateHostTracker(tracker('bash', { strategy: 'Package', package: 'bash' }));
    expect(r).toEqual({
      subject: 'bash',
      versions: [{ runningVersion: expected, extractedFrom: 'dpkg:bash', resourceKind: 'Package' }],
    });
    const absent = await evaluateHostTracker(tracker('n', { strategy: 'Package', package: 'flotilla-not-a-package' }));
    expect(absent).toEqual({ subject: 'n', versions: [], error: 'package flotilla-not-a-package is not installed' });
  });

  it('refuses names that are not package names', async () => {
    for (const name of ['-a', '*', 'bash*', 'b?sh', 'bash;id', '../x', 'a b', '$(id)', 'x'.repeat(300)]) {
      const r = await evaluateHostTracker(tracker('p', { strategy: 'Package', package: name }));
      expect(r.error, name).toMatch(/is not a valid package name/);
    }
  });

  it('reports a host with neither dpkg-query nor rpm', async () => {
    const empty = join(work, 'empty-bin');
    mkdirSync(empty);
    const r = await evaluateHostTracker(tracker('p', { strategy: 'Package', package: 'bash' }), { path: empty });
    expect(r.error).toBe('no package manager found (neither dpkg-query nor rpm)');
  });
});

describe('evaluateHostTrackers', () => {
  it('keeps the others working when one fails, runs at most 2 at a time, and keeps the order', async () => {
    const running = join(work, 'running');
    mkdirSync(running);
    const counts = join(work, 'counts');
    mkdirSync(counts);
    // Each marks itself running, records how many run, waits, then unmarks itself.
    const slow = (i: number) =>
      command(
        `slow${i}`,
        `const fs = require("fs"), p = ${JSON.stringify(running)} + "/${i}";
         fs.writeFileSync(p, ""); fs.writeFileSync(${JSON.stringify(counts)} + "/${i}", String(fs.readdirSync(${JSON.stringify(running)}).length));
         setTimeout(() => { fs.rmSync(p); console.log("v${i}"); }, 300)`,
      );
    const bad = tracker('bad', { strategy: 'File', path: '/etc/hostname' }, '(?=lookahead)');
    const results = await evaluateHostTrackers([slow(1), bad, slow(2), slow(3), slow(4)]);
    expect(results.map((r) => r.subject)).toEqual(['slow1', 'bad', 'slow2', 'slow3', 'slow4']);
    expect(results[1]?.error).toMatch(/not valid RE2 syntax/);
    expect(results.filter((r) => r.subject !== 'bad').map((r) => r.versions[0]?.runningVersion)).toEqual([
      'v1',
      'v2',
      'v3',
      'v4',
    ]);
    const seen = readdirSync(counts).map((f) => Number(readFileSync(join(counts, f), 'utf8')));
    expect(seen).toHaveLength(4);
    expect(Math.max(...seen)).toBeLessThanOrEqual(2);
  });

  it('refuses a Kubernetes strategy', async () => {
    const r = await evaluateHostTracker(tracker('k', { strategy: 'Pods', selector: {} }));
    expect(r.error).toBe('resources.strategy Pods is not a host strategy');
  });
});
