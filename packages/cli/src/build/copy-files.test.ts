import { lstatSync, mkdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeTempDir } from '../../../server/test/support/temp-dir.ts';
import { copyFiles } from './copy-files.ts';

function setup(files: Record<string, string>) {
  const work = makeTempDir('flotilla-copy-');
  const sourcesDir = join(work, 'source');
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(sourcesDir, path)), { recursive: true });
    writeFileSync(join(sourcesDir, path), content, { mode: path.endsWith('.sh') ? 0o755 : 0o644 });
  }
  mkdirSync(join(sourcesDir, 'app'), { recursive: true });
  const buildDir = join(work, 'build');
  return { work, opts: { sourcesDir, firstRoot: join(sourcesDir, 'app'), buildDir, macros: { version: '1.2.3' } } };
}

const read = (dir: string, path: string) => readFileSync(join(dir, path), 'utf8');

describe('copyFiles', () => {
  it('copies files and trees with exclusions, from other sources too, and substitutes settings in text files', () => {
    const { opts } = setup({
      'app/dist/run.sh': '#!/bin/sh\necho %%version%%\n',
      'app/dist/app.js': 'port=%%port%% v=%%ver%% keep=%%client%%\n',
      'app/dist/app.js.map': 'x',
      'app/dist/logs/a.log': 'x',
      'app/dist/test/t.js': 'x',
      'app/dist/img.bin': 'a\0%%port%%',
      'app/conf/app.conf': 'name=%%name%%\n',
      'lib/lib.txt': 'lib %%port%%\n',
    });
    symlinkSync('run.sh', join(opts.sourcesDir, 'app/dist/start'));
    const stats = copyFiles(
      [
        {
          sourceFile: 'dist',
          destinationFile: 'bin',
          except: ['*.map', 'logs/', 'test/**'],
          settings: [{ port: '8080' }, { ver: '%%version%%' }],
        },
        { sourceFile: 'conf/app.conf', destinationFile: 'etc/', settings: { name: 'web' } },
        { sourceFile: '../lib/lib.txt', destinationFile: 'lib/copy.txt' },
      ],
      opts,
    );
    const b = opts.buildDir;
    expect(read(b, 'bin/app.js')).toBe('port=8080 v=1.2.3 keep=%%client%%\n');
    expect(read(b, 'bin/run.sh')).toBe('#!/bin/sh\necho %%version%%\n');
    expect(statSync(join(b, 'bin/run.sh')).mode & 0o777).toBe(0o755);
    expect(read(b, 'bin/img.bin')).toBe('a\0%%port%%');
    expect(readlinkSync(join(b, 'bin/start'))).toBe('run.sh');
    expect(lstatSync(join(b, 'bin/app.js.map'), { throwIfNoEntry: false })).toBeUndefined();
    expect(lstatSync(join(b, 'bin/logs'), { throwIfNoEntry: false })).toBeUndefined();
    expect(lstatSync(join(b, 'bin/test'), { throwIfNoEntry: false })).toBeUndefined();
    expect(read(b, 'etc/app.conf')).toBe('name=web\n');
    expect(read(b, 'lib/copy.txt')).toBe('lib %%port%%\n');
    expect(stats.files).toBe(6);
  });

  it.each([
    [
      { sourceFile: '/etc/passwd', destinationFile: 'x' },
      'build.copyFiles[0]: sourceFile /etc/passwd must be relative',
    ],
    [{ sourceFile: '../../x', destinationFile: 'x' }, 'is outside the sources'],
    [{ sourceFile: 'a.txt', destinationFile: '../x' }, 'destinationFile ../x is outside the build directory'],
    [{ sourceFile: 'a.txt', destinationFile: '/x' }, 'must be relative'],
    [{ sourceFile: 'missing', destinationFile: 'x' }, 'sourceFile missing does not exist'],
    [{ sourceFile: 'a.txt', destinationFile: 'flotilla.json' }, 'flotilla.json is written by the build'],
    [{ sourceFile: 'out', destinationFile: 'x' }, 'leads outside the sources through a symlink'],
    [{ sourceFile: 'tree', destinationFile: 'x' }, 'symlink abs -> /etc/passwd points outside the version'],
    [{ sourceFile: 'up', destinationFile: 'x' }, 'symlink up -> ../../.. points outside the version'],
    [
      { sourceFile: 'a.txt', destinationFile: 'x', settings: { a: '%%undefined%%' } },
      'settings.a:1: macro %%undefined%%',
    ],
  ])('refuses %j', (entry, message) => {
    const { opts, work } = setup({ 'app/a.txt': 'a', 'app/tree/f': 'f' });
    writeFileSync(join(work, 'secret'), 's');
    symlinkSync(join(work, 'secret'), join(opts.firstRoot, 'out'));
    symlinkSync('/etc/passwd', join(opts.firstRoot, 'tree/abs'));
    mkdirSync(join(opts.firstRoot, 'up'));
    symlinkSync('../../..', join(opts.firstRoot, 'up/up'));
    expect(() => copyFiles([entry], opts)).toThrow(message);
  });

  it('refuses to write through a symlink an earlier entry made', () => {
    const { opts } = setup({ 'app/a.txt': 'a', 'app/d/f': 'f' });
    mkdirSync(join(opts.firstRoot, 'links'));
    symlinkSync('../d', join(opts.firstRoot, 'links/to-d'));
    expect(() =>
      copyFiles(
        [
          { sourceFile: 'links', destinationFile: 'l' },
          { sourceFile: 'a.txt', destinationFile: 'l/to-d' },
        ],
        opts,
      ),
    ).toThrow('would be written through a symlink');
  });
});
