import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeTempDir } from '../../../server/test/support/temp-dir.ts';
import { makeRepo } from './git-repo.test.helper.ts';
import { type BuildRequest, runBuild } from './run-build.ts';

function request(dir: string, overrides: Partial<BuildRequest> = {}): BuildRequest {
  return {
    service: 'web',
    version: '1.0.0',
    sources: [],
    macros: {},
    workdir: join(dir, 'work'),
    commandTimeoutMs: 10_000,
    gitTimeoutMs: 30_000,
    builder: 'flotilla build test',
    ...overrides,
  };
}

describe('runBuild', () => {
  it('builds from a subdirectory source and another source, and records both in the provenance', async () => {
    const dir = makeTempDir('flotilla-run-build-');
    const spec = {
      update: [
        {
          service: 'web',
          build: {
            buildCommands: [{ command: 'cp', args: ['../shared/banner.txt', 'banner.txt'] }],
            copyFiles: [{ sourceFile: 'banner.txt', destinationFile: 'banner.txt' }],
            install: { runService: { command: './run', args: ['%%edition%%'] } },
          },
        },
      ],
    };
    const mono = makeRepo(join(dir, 'mono'), { 'services/web/update.json': JSON.stringify(spec), README: 'x' });
    const shared = makeRepo(join(dir, 'shared'), { 'banner.txt': 'hello\n' });
    const result = await runBuild(
      request(dir, {
        sources: [
          { name: 'app', url: join(dir, 'mono'), ref: 'main', subdir: 'services/web' },
          { name: 'shared', url: join(dir, 'shared'), ref: '' },
        ],
        macros: { edition: 'pro' },
      }),
    );
    expect(readFileSync(join(result.buildDir, 'banner.txt'), 'utf8')).toBe('hello\n');
    const written = JSON.parse(readFileSync(join(result.buildDir, 'flotilla.json'), 'utf8'));
    expect(written).toEqual(result.manifest);
    expect(written.run).toEqual({ command: './run', args: ['pro'] });
    expect(written.provenance.sources).toEqual([
      { name: 'app', url: join(dir, 'mono'), ref: 'main', subdir: 'services/web', commit: mono },
      { name: 'shared', url: join(dir, 'shared'), ref: '', commit: shared },
    ]);
    const log = readFileSync(result.logPath);
    expect(written.provenance.log.sha256).toBe(createHash('sha256').update(log).digest('hex'));
    expect(log.toString()).toMatch(/build finished; the log ends here\n$/);
  });

  it('refuses two sources of one name and a work directory another live build holds', async () => {
    const dir = makeTempDir('flotilla-run-build-');
    const twice = [
      { name: 'a', url: 'x', ref: '' },
      { name: 'a', url: 'y', ref: '' },
    ];
    await expect(runBuild(request(dir, { sources: twice }))).rejects.toThrow('two sources have the same name');
    const work = join(dir, 'work');
    mkdirSync(work, { recursive: true });
    writeFileSync(join(work, 'build.lock'), String(process.ppid));
    await expect(runBuild(request(dir, { sources: [{ name: 'a', url: 'x', ref: '' }] }))).rejects.toThrow(
      `is in use by another build (pid ${process.ppid})`,
    );
  });

  it('takes over the lock of a build that died, and logs a failed source', async () => {
    const dir = makeTempDir('flotilla-run-build-');
    const work = join(dir, 'work');
    mkdirSync(work, { recursive: true });
    writeFileSync(join(work, 'build.lock'), '999999999');
    await expect(runBuild(request(dir, { sources: [{ name: 'a', url: join(dir, 'none'), ref: '' }] }))).rejects.toThrow(
      'source a: git clone failed',
    );
    expect(readFileSync(join(work, 'logs/1.0.0.log'), 'utf8')).toContain('build failed: source a: git clone failed');
  });
});
