import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkRelative, resolveForWrite } from './tree-walk.ts';
import { writeStaged } from './write-staged.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'flotilla-staged-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('writeStaged', () => {
  it('writes every output, keeps the mode of a replaced file and creates directories', () => {
    writeFileSync(join(dir, 'run.sh'), 'old', { mode: 0o755 });
    writeFileSync(join(dir, 'src.bin'), Buffer.from([1, 2]));
    writeStaged([
      { dest: join(dir, 'run.sh'), content: 'new' },
      { dest: join(dir, 'a/b/c.bin'), copyFrom: join(dir, 'src.bin') },
    ]);
    expect(readFileSync(join(dir, 'run.sh'), 'utf8')).toBe('new');
    expect(statSync(join(dir, 'run.sh')).mode & 0o777).toBe(0o755);
    expect([...readFileSync(join(dir, 'a/b/c.bin'))]).toEqual([1, 2]);
  });

  it('leaves the tree as it was when one output cannot be written', () => {
    writeFileSync(join(dir, 'keep.conf'), 'original');
    writeFileSync(join(dir, 'file'), 'x');
    expect(() =>
      writeStaged([
        { dest: join(dir, 'keep.conf'), content: 'changed' },
        { dest: join(dir, 'new/dir/x.conf'), content: 'y' },
        { dest: join(dir, 'file/under-a-file.conf'), content: 'z' },
      ]),
    ).toThrow();
    expect(readFileSync(join(dir, 'keep.conf'), 'utf8')).toBe('original');
    expect(readdirSync(dir).sort()).toEqual(['file', 'keep.conf']);
    expect(existsSync(join(dir, 'new'))).toBe(false);
  });
});

describe('paths', () => {
  it('refuses paths that are not plain relative paths', () => {
    for (const bad of ['../x', '/etc/passwd', 'a/../../b', 'a//b', './a', 'a\\..\\b', ''])
      expect(() => checkRelative(bad, bad), bad).toThrow('path leaves the tree');
    expect(() => checkRelative('conf/app.conf', 'x')).not.toThrow();
  });

  it('writes through a link that stays inside the tree and refuses a directory in the way', () => {
    mkdirSync(join(dir, 'real'));
    writeFileSync(join(dir, 'real/app.conf'), 'a = 1');
    symlinkSync(join(dir, 'real'), join(dir, 'conf'));
    expect(resolveForWrite(dir, 'conf/app.conf')).toBe(join(dir, 'real/app.conf'));
    expect(() => resolveForWrite(dir, 'real')).toThrow('real: is a directory in the build tree');
    expect(() => resolveForWrite(dir, 'real/app.conf/x')).toThrow('real/app.conf is a file in the build tree');
  });
});
