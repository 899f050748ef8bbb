import { describe, expect, it } from 'vitest';
import { manifestProblems, validateManifest } from './manifest.ts';

const good = {
  install: [{ command: './install.sh', args: ['%%version%%'], env: { ROLE: '%%role%%' }, timeoutSec: 60 }],
  postInstall: [{ command: 'ln', args: ['-sf', 'a', 'b'] }],
  run: { command: './bin/server', args: ['--role', '%%role%%'], workingDir: '.' },
  logs: { maxFileSizeMB: 10, maxFilesCount: 5, uploadLogs: true },
  faultFilesMatch: ['core*', '*.hprof'],
  restart: { maxMemoryMB: 512, maxCpu: { percents: 90, durationSec: 60 }, makeCore: true, checkTimeoutMs: 1000 },
  health: { http: { url: 'http://127.0.0.1:8080/healthz', expectStatus: 200 }, startupWindowSec: 30, intervalSec: 5 },
};

describe('install manifest validation', () => {
  it('accepts a full manifest and an empty one', () => {
    expect(manifestProblems(good)).toEqual([]);
    expect(manifestProblems({})).toEqual([]);
    expect(validateManifest(good)).toBe(good);
  });

  it.each([
    [{ run: { command: 5 } }, '/run/command: expected string'],
    [{ run: {} }, '/run/command: required'],
    [{ install: [{ command: 'x', args: [1] }] }, '/install/0/args/0: expected string'],
    [{ install: [{ command: 'x', env: { A: 1 } }] }, '/install/0/env/A: expected string'],
    [{ runn: {} }, '/runn: unknown property'],
    [{ logs: { maxFilesCount: 0 } }, '/logs/maxFilesCount: must be >= 1'],
    [{ restart: { maxCpu: { percents: 50 } } }, '/restart/maxCpu/durationSec: required'],
    [{ health: { tcp: { port: 70000 } } }, '/health/tcp/port: must be <= 65535'],
    [{ health: { startupWindowSec: 5 } }, '/health: needs exactly one of http, tcp, command, statusFile'],
    [
      { health: { tcp: { port: 1 }, statusFile: { path: 'x' } } },
      '/health: needs exactly one of http, tcp, command, statusFile (has tcp, statusFile)',
    ],
    [{ run: { command: 'x', args: ['%%host%%'] } }, '/run/args/0: unknown macro %%host%%'],
    ['a string', '/: expected object'],
  ])('%j → %s', (manifest, message) => {
    expect(manifestProblems(manifest).join('\n')).toContain(message);
  });

  it('names the file, the path and the reason in the error', () => {
    expect(() => validateManifest({ run: { command: 5 } })).toThrow('flotilla.json: /run/command: expected string');
  });

  it('accepts and keeps build provenance, whose strings are never taken for macros', () => {
    const provenance = {
      builder: 'flotilla build 0.1.0',
      sources: [{ name: 'app', url: 'git://h/app.git', ref: '%%odd%%', commit: 'a'.repeat(40) }],
      spec: { file: 'update.json', sha256: 'b'.repeat(64) },
      log: { sha256: 'c'.repeat(64), bytes: 12 },
      startedAt: '2026-01-01T00:00:00.000Z',
      finishedAt: '2026-01-01T00:00:01.000Z',
    };
    const manifest = { ...good, provenance };
    expect(validateManifest(manifest).provenance).toEqual(provenance);
    expect(manifestProblems({ provenance: { ...provenance, sources: [] } }).join('\n')).toContain(
      '/provenance/sources',
    );
    expect(manifestProblems({ provenance: { ...provenance, extra: 1 } }).join('\n')).toContain(
      '/provenance/extra: unknown property',
    );
  });
});
