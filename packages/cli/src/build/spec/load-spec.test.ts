import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeTempDir } from '../../../../server/test/support/temp-dir.ts';
import { loadSpec } from './load-spec.ts';

const update = JSON.stringify({
  update: [{ service: 'web', build: { install: { runService: { command: './old' } } } }],
});
const native = JSON.stringify({
  builds: [
    {
      service: 'web',
      build: { buildCommands: [{ command: 'make' }], copyFiles: [{ sourceFile: 'out', destinationFile: '.' }] },
      manifest: {
        run: { command: './bin/web', args: ['--edition', '%%edition%%', '--role', '%%role%%'], workingDir: '.' },
        health: { http: { url: 'http://127.0.0.1:8080/healthz' } },
      },
    },
  ],
});

describe('loadSpec', () => {
  it('reads update.json, with the SHA-256 of its bytes', () => {
    const dir = makeTempDir('flotilla-spec-');
    writeFileSync(join(dir, 'update.json'), update);
    const spec = loadSpec(dir, 'web');
    expect(spec.file).toBe('update.json');
    expect(spec.sha256).toBe(createHash('sha256').update(update).digest('hex'));
    expect(spec.toManifest({}).manifest).toEqual({ run: { command: './old' } });
  });

  it('prefers flotilla-build.json and takes its manifest as written, --macro values expanded', () => {
    const dir = makeTempDir('flotilla-spec-');
    writeFileSync(join(dir, 'update.json'), update);
    writeFileSync(join(dir, 'flotilla-build.json'), native);
    const spec = loadSpec(dir, 'web');
    expect(spec.file).toBe('flotilla-build.json');
    expect(spec.buildCommands).toEqual([{ command: 'make' }]);
    expect(spec.copyFiles).toEqual([{ sourceFile: 'out', destinationFile: '.' }]);
    expect(spec.toManifest({ edition: 'pro' }).manifest).toEqual({
      run: { command: './bin/web', args: ['--edition', 'pro', '--role', '%%role%%'], workingDir: '.' },
      health: { http: { url: 'http://127.0.0.1:8080/healthz' } },
    });
    expect(() => spec.toManifest({})).toThrow('flotilla-build.json manifest.run.args[1]:1: macro %%edition%%');
  });

  it.each([
    [{ builds: [{ service: 'web', manifest: { run: { command: 'x' }, provenance: {} } }] }, 'provenance'],
    [{ builds: [{ service: 'web', manifest: { runn: {} } }] }, '/builds/0/manifest/runn: unknown property'],
    [{ builds: [{ service: 'web', build: { install: {} } }] }, '/builds/0/build/install: unknown property'],
    [{ builds: [{ service: 'api' }] }, 'no entry for service "web" in builds[] (it has: api)'],
  ])('refuses %j', (value, message) => {
    const dir = makeTempDir('flotilla-spec-');
    writeFileSync(join(dir, 'flotilla-build.json'), JSON.stringify(value));
    expect(() => loadSpec(dir, 'web').toManifest({})).toThrow(message);
  });

  it('says what it looked for when there is no spec', () => {
    expect(() => loadSpec(makeTempDir('flotilla-spec-'), 'web')).toThrow(
      'update.json: neither it nor flotilla-build.json is at the root of the first source',
    );
  });
});
