import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeTempDir } from '../../../server/test/support/temp-dir.ts';
import { fetchSource, limitsOf, parseSource, RepoTooLarge, redactUrl } from './git.ts';
import { commitFiles, gitIn, makeRepo, startGitDaemon } from './git-repo.test.helper.ts';

const opts = { timeoutMs: 30_000, log: () => {} };

describe('--source', () => {
  it.each([
    ['app=git://127.0.0.1:9418/app.git', { name: 'app', url: 'git://127.0.0.1:9418/app.git', ref: '' }],
    ['app=https://h.example/a.git#v1.2', { name: 'app', url: 'https://h.example/a.git', ref: 'v1.2' }],
    [
      'lib=git@host:org/lib.git#main:pkg/lib',
      { name: 'lib', url: 'git@host:org/lib.git', ref: 'main', subdir: 'pkg/lib' },
    ],
    ['conf=ssh://git@h:22/c.git#:etc/', { name: 'conf', url: 'ssh://git@h:22/c.git', ref: '', subdir: 'etc' }],
    ['x=/srv/x.git#0123abcd', { name: 'x', url: '/srv/x.git', ref: '0123abcd' }],
  ])('%s', (text, parsed) => {
    expect(parseSource(text)).toEqual(parsed);
  });

  it.each([
    ['app', 'the name'],
    ['../x=u', 'the name'],
    ['app=', 'no git URL'],
    ['app=--upload-pack=x', 'no git URL'],
    ['app=u#-x', 'not a branch'],
    ['app=u#a..b', 'not a branch'],
    ['app=u#main:../up', 'subdirectory'],
    ['app=u#main:/abs', 'subdirectory'],
  ])('refuses %s', (text, why) => {
    expect(() => parseSource(text)).toThrow(why);
  });

  it('drops credentials from URLs', () => {
    expect(redactUrl('https://user:tok@h.example/a.git')).toBe('https://h.example/a.git');
    expect(redactUrl('git@host:org/a.git')).toBe('git@host:org/a.git');
  });
});

describe('fetchSource', () => {
  it('clones, checks out branches, tags and commits exactly, and fetches on rebuilds', async () => {
    const dir = makeTempDir('flotilla-git-');
    const repo = join(dir, 'repo');
    const first = makeRepo(repo, { 'a.txt': 'one\n', 'sub/b.txt': 'b\n' });
    gitIn(repo, ['tag', 'v1']);
    const work = join(dir, 'work');

    const got = await fetchSource(work, { name: 'app', url: repo, ref: 'main' }, opts);
    expect(got.commit).toBe(first);
    expect(readFileSync(join(work, 'source/app/a.txt'), 'utf8')).toBe('one\n');

    const second = commitFiles(repo, { 'a.txt': 'two\n' });
    writeFileSync(join(work, 'source/app/leftover'), 'x');
    const again = await fetchSource(work, { name: 'app', url: repo, ref: '' }, opts);
    expect(again.commit).toBe(second);
    expect(readFileSync(join(work, 'source/app/a.txt'), 'utf8')).toBe('two\n');
    expect(existsSync(join(work, 'source/app/leftover'))).toBe(false);

    expect((await fetchSource(work, { name: 'app', url: repo, ref: 'v1' }, opts)).commit).toBe(first);
    expect((await fetchSource(work, { name: 'app', url: repo, ref: first.slice(0, 10) }, opts)).commit).toBe(first);
    expect(readFileSync(join(work, 'source/app/a.txt'), 'utf8')).toBe('one\n');

    const sub = await fetchSource(work, { name: 'lib', url: repo, ref: 'v1', subdir: 'sub' }, opts);
    expect(sub.commit).toBe(first);
    expect(readFileSync(join(work, 'source/lib/b.txt'), 'utf8')).toBe('b\n');
    expect(existsSync(join(work, 'source/lib/a.txt'))).toBe(false);

    await expect(fetchSource(work, { name: 'app', url: repo, ref: 'nope' }, opts)).rejects.toThrow(
      'has no branch, tag or commit "nope"',
    );
    await expect(fetchSource(work, { name: 'lib', url: repo, ref: 'main', subdir: 'missing' }, opts)).rejects.toThrow(
      '"missing" is not a directory',
    );
    await expect(fetchSource(work, { name: 'bad', url: join(dir, 'none'), ref: '' }, opts)).rejects.toThrow(
      'git clone failed',
    );
  });

  it('checks out submodules recursively at their recorded commits when asked, whole or in a subdirectory', async () => {
    const dir = makeTempDir('flotilla-git-sub-');
    const lib = join(dir, 'lib.git');
    const libFirst = makeRepo(lib, { 'lib.txt': 'lib one\n' });
    const daemon = await startGitDaemon(dir);
    try {
      const app = join(dir, 'app.git');
      makeRepo(app, { 'a.txt': 'a\n' });
      gitIn(app, ['submodule', 'add', '--quiet', daemon.url('lib'), 'srv/vendor/lib']);
      gitIn(app, ['commit', '--quiet', '-m', 'submodule']);
      const work = join(dir, 'work');
      const url = daemon.url('app');

      const plain = await fetchSource(work, { name: 'app', url, ref: 'main' }, opts);
      expect(plain.submoduleCommits).toBeUndefined();
      expect(existsSync(join(work, 'source/app/srv/vendor/lib/lib.txt'))).toBe(false);

      const whole = await fetchSource(work, { name: 'app', url, ref: 'main', submodules: true }, opts);
      expect(whole.submoduleCommits).toEqual([{ path: 'srv/vendor/lib', commit: libFirst }]);
      expect(readFileSync(join(work, 'source/app/srv/vendor/lib/lib.txt'), 'utf8')).toBe('lib one\n');

      // A new library commit reaches the build only once the application records it.
      const libSecond = commitFiles(lib, { 'lib.txt': 'lib two\n' });
      expect(
        (await fetchSource(work, { name: 'app', url, ref: 'main', submodules: true }, opts)).submoduleCommits,
      ).toEqual([{ path: 'srv/vendor/lib', commit: libFirst }]);
      gitIn(join(app, 'srv/vendor/lib'), ['pull', '--quiet', 'origin', 'main']);
      commitFiles(app, {}, 'bump lib');
      const bumped = await fetchSource(work, { name: 'srv', url, ref: 'main', subdir: 'srv', submodules: true }, opts);
      expect(bumped.submoduleCommits).toEqual([{ path: 'srv/vendor/lib', commit: libSecond }]);
      expect(readFileSync(join(work, 'source/srv/vendor/lib/lib.txt'), 'utf8')).toBe('lib two\n');
      expect(existsSync(join(work, 'source/srv/vendor/lib/.git'))).toBe(false);
      expect(existsSync(join(work, 'source/srv/a.txt'))).toBe(false);
    } finally {
      await daemon.stop();
    }
  });

  it("fetches untrusted repositories without the user's git configuration, and only over http(s) and git", async () => {
    const dir = makeTempDir('flotilla-git-untrusted-');
    makeRepo(join(dir, 'acme.git'), { 'who.txt': 'acme\n' });
    makeRepo(join(dir, 'ops.git'), { 'who.txt': 'ops\n' });
    const daemon = await startGitDaemon(dir);
    // The user's configuration rewrites the consumer's URL to a repository of the provider's.
    const config = join(dir, 'gitconfig');
    writeFileSync(config, `[url "${daemon.url('ops')}"]\n\tinsteadOf = ${daemon.url('acme')}\n`);
    const before = process.env.GIT_CONFIG_GLOBAL;
    process.env.GIT_CONFIG_GLOBAL = config;
    try {
      const source = { name: 's', url: daemon.url('acme'), ref: 'main' };
      await fetchSource(join(dir, 'trusted'), source, opts);
      expect(readFileSync(join(dir, 'trusted/source/s/who.txt'), 'utf8')).toBe('ops\n');
      await fetchSource(join(dir, 'untrusted'), source, { ...opts, untrusted: true });
      expect(readFileSync(join(dir, 'untrusted/source/s/who.txt'), 'utf8')).toBe('acme\n');
      const local = { name: 'l', url: join(dir, 'ops.git'), ref: 'main' };
      await expect(fetchSource(join(dir, 'untrusted'), local, { ...opts, untrusted: true })).rejects.toThrow(
        'git clone failed',
      );
    } finally {
      if (before === undefined) delete process.env.GIT_CONFIG_GLOBAL;
      else process.env.GIT_CONFIG_GLOBAL = before;
      await daemon.stop();
    }
  });
});

describe('size limits of a fetched repository', () => {
  const limits = { repoBytes: 10 * 1024 * 1024, treeBytes: 10 * 1024 * 1024, files: 100 };

  it('refuses a tree with more files, or more bytes, than allowed before writing any of it', async () => {
    const dir = makeTempDir('flotilla-git-limits-');
    const files = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`conf/${i}.conf`, `value ${i}\n`]));
    makeRepo(join(dir, 'many.git'), files);
    const many = { name: 'many', url: `file://${join(dir, 'many.git')}`, ref: 'main' };
    await expect(fetchSource(join(dir, 'w1'), many, { ...opts, limits: { ...limits, files: 5 } })).rejects.toThrow(
      /many: 6 files at [0-9a-f]{40}, more than the 5 allowed/,
    );
    expect(existsSync(join(dir, 'w1/source/many/conf'))).toBe(false);
    await fetchSource(join(dir, 'w2'), many, { ...opts, limits: { ...limits, files: 6 } });
    expect(readFileSync(join(dir, 'w2/source/many/conf/5.conf'), 'utf8')).toBe('value 5\n');

    // 300 KB of zeros pack into almost nothing: the checkout is what would fill the disk.
    makeRepo(join(dir, 'zeros.git'), { 'big.bin': '\0'.repeat(300_000) });
    const zeros = { name: 'zeros', url: `file://${join(dir, 'zeros.git')}`, ref: 'main' };
    await expect(
      fetchSource(join(dir, 'w3'), zeros, { ...opts, limits: { ...limits, treeBytes: 200_000 } }),
    ).rejects.toThrow(/zeros: 0\.3 MiB of files at [0-9a-f]{40}, more than 0\.2 MiB/);
    expect(existsSync(join(dir, 'w3/source/zeros/big.bin'))).toBe(false);
  });

  it('counts every file of a tree whose listing is longer than the output git commands keep', async () => {
    const dir = makeTempDir('flotilla-git-limits-');
    const repo = join(dir, 'wide.git');
    makeRepo(repo, { README: 'wide\n' });
    // 12,000 long paths: `git ls-tree -r -l` prints about 2 MiB for them.
    const deep = join(repo, 'd'.repeat(60), 'e'.repeat(60));
    mkdirSync(deep, { recursive: true });
    for (let i = 0; i < 12_000; i++) writeFileSync(join(deep, `${i}.conf`), '');
    commitFiles(repo, {});
    const wide = { name: 'wide', url: `file://${repo}`, ref: 'main' };
    await expect(fetchSource(join(dir, 'w'), wide, { ...opts, limits: { ...limits, files: 12_000 } })).rejects.toThrow(
      'wide: 12001 files at',
    );
  });

  it('stops a clone whose repository grows past the limit and keeps nothing of it', async () => {
    const dir = makeTempDir('flotilla-git-limits-');
    // Random bytes do not compress: the pack is as large as the file.
    makeRepo(join(dir, 'noise.git'), { 'noise.bin': randomBytes(600_000).toString('base64') });
    const noise = { name: 'noise', url: `file://${join(dir, 'noise.git')}`, ref: 'main' };
    await expect(
      fetchSource(join(dir, 'w'), noise, { ...opts, limits: { ...limits, repoBytes: 300_000 } }),
    ).rejects.toThrow(/git clone stopped: file:\/\/.*noise\.git is larger than 0\.3 MiB/);
    expect(existsSync(join(dir, 'w/source/noise'))).toBe(false);
    await fetchSource(join(dir, 'w'), noise, { ...opts, limits });
    expect(readFileSync(join(dir, 'w/source/noise/noise.bin'), 'utf8')).toHaveLength(800_000);

    // A repository that grows past the limit later: the fetch into the kept clone stops, and the clone goes.
    commitFiles(join(dir, 'noise.git'), { 'more.bin': randomBytes(600_000).toString('base64') });
    await expect(
      fetchSource(join(dir, 'w'), noise, { ...opts, limits: { ...limits, repoBytes: 900_000 } }),
    ).rejects.toBeInstanceOf(RepoTooLarge);
    expect(existsSync(join(dir, 'w/source/noise'))).toBe(false);
  });

  it('bounds untrusted repositories by default, trusted ones only when asked', async () => {
    const { untrustedLimits } = await import('./git-limits.ts');
    expect(limitsOf({ ...opts, untrusted: true })).toBe(untrustedLimits);
    expect(limitsOf({ ...opts, untrusted: true, limits })).toBe(limits);
    expect(limitsOf(opts)).toBeUndefined();
  });
});
