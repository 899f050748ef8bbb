import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tar from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminToken, startTestServer, type TestServer } from '../../server/test/support/server.ts';
import { makeTempDir } from '../../server/test/support/temp-dir.ts';
import { commitFiles, type GitDaemon, gitIn, makeRepo, startGitDaemon } from './build/git-repo.test.helper.ts';
import { buildProgram } from './program.ts';
import { runCli } from './run-cli.test.helper.ts';

const spec = (build: unknown) => `${JSON.stringify({ update: [{ service: 'web', build }] }, null, 2)}\n`;

const webBuild = {
  buildCommands: [
    { command: 'sh', args: ['build.sh', '%%version%%', '%%greeting%%'], env: { LIB: '../lib' } },
    { command: 'cat', args: ['dist/version.txt'], outputMatch: '^\\d+\\.\\d+\\.\\d+ hi$' },
  ],
  copyFiles: [
    { sourceFile: 'dist', destinationFile: 'bin', except: ['*.tmp'] },
    { sourceFile: 'conf/app.conf', destinationFile: 'conf/app.conf', settings: { port: '8080' } },
    { sourceFile: '../lib/lib.txt', destinationFile: 'lib/lib.txt' },
  ],
  install: { runService: { command: './bin/web.sh', args: ['--role', '%%role%%'], restartOnFault: true } },
};

const appFiles = {
  'update.json': spec(webBuild),
  'build.sh':
    'mkdir -p dist && echo "$1 $2" > dist/version.txt && cp "$LIB/lib.txt" dist/from-lib.txt && touch dist/x.tmp\n',
  'conf/app.conf': 'port=%%port%%\nname=%%client_name%%\n',
  'web.sh': '#!/bin/sh\nexec sleep 1000\n',
};

describe('docs/builds.md stays true to `flotilla build`', () => {
  it('documents every option', () => {
    const doc = readFileSync(new URL('../../../docs/builds.md', import.meta.url), 'utf8');
    const build = buildProgram().commands.find((c) => c.name() === 'build');
    for (const option of build?.options ?? []) expect(doc, option.long).toContain(`\`${option.long}`);
  });
});

describe('flotilla build --local', () => {
  let server: TestServer;
  let daemon: GitDaemon | undefined;
  const cfg = makeTempDir('flotilla-cfg-');
  const base = makeTempDir('flotilla-repos-');
  const dir = makeTempDir('flotilla-build-');
  const workdir = join(dir, 'work');
  const licenseFile = join(dir, 'license.key');
  writeFileSync(licenseFile, 'licensed locally\n');
  let appCommit = '';
  let libCommit = '';
  const env = () => ({
    FLOTILLA_SERVER: server.url,
    FLOTILLA_TOKEN: adminToken,
    XDG_CONFIG_HOME: cfg,
    XDG_CACHE_HOME: join(dir, 'cache'),
  });
  const run = (args: string[]) => runCli(args, { env: env() });
  const ok = async (args: string[]) => {
    const r = await run(args);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('flotilla:'))).toEqual([]);
    expect(r.status).toBe(0);
    return r;
  };
  const url = (name: string, ref = 'main') => (daemon as GitDaemon).source(name, ref);
  const versions = async () =>
    (
      JSON.parse((await ok(['version', 'list', 'web', '--json'])).stdout) as { versions: { version: string }[] }
    ).versions.map((v) => v.version);

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    appCommit = makeRepo(join(base, 'app.git'), appFiles);
    libCommit = makeRepo(join(base, 'lib.git'), { 'lib.txt': 'from lib\n' });
    daemon = await startGitDaemon(base);
    await ok(['service', 'create', 'web']);
    await ok(['env', 'create', 'test']);
  });
  afterAll(async () => {
    await daemon?.stop();
    await server?.stop();
  });

  it('builds from two sources served over git://, publishes with provenance and sets it desired', async () => {
    const r = await ok([
      'build',
      'web',
      '--local',
      '--source',
      url('app'),
      '--source',
      url('lib'),
      '--macro',
      'greeting=hi',
      '--workdir',
      workdir,
      '--set-desired',
      'test',
      '--private-file',
      `conf/license.key=${licenseFile}`,
    ]);
    expect(r.stdout).toMatch(/^published web 0\.1\.0: sha256:[0-9a-f]{64} /m);
    expect(r.stderr).toContain('added 1 private files: conf/license.key');
    expect(r.stdout).toContain('desired in test: web=0.1.0 (revision 1)');
    expect(r.stderr).toContain('$ sh build.sh 0.1.0 hi');

    const shown = JSON.parse((await ok(['version', 'show', 'web', '0.1.0', '--json'])).stdout);
    const provenance = shown.manifest.provenance;
    expect(provenance.sources).toEqual([
      { name: 'app', url: (daemon as GitDaemon).url('app'), ref: 'main', commit: appCommit },
      { name: 'lib', url: (daemon as GitDaemon).url('lib'), ref: 'main', commit: libCommit },
    ]);
    expect(provenance.builder).toMatch(/^flotilla build \d+\.\d+\.\d+/);
    const specSha = createHash('sha256').update(appFiles['update.json']).digest('hex');
    expect(provenance.spec).toEqual({ file: 'app/update.json', sha256: specSha });
    const log = readFileSync(join(workdir, 'logs', '0.1.0.log'));
    expect(provenance.log).toEqual({ sha256: createHash('sha256').update(log).digest('hex'), bytes: log.length });
    expect(JSON.parse(shown.signedManifest).manifest.provenance).toEqual(provenance);
    expect(shown.manifest.run).toEqual({ command: './bin/web.sh', args: ['--role', '%%role%%'] });
    expect(shown.manifest.restart).toEqual({ onFault: true });

    const out = join(dir, 'web.tar.gz');
    await ok(['version', 'download', 'web', '0.1.0', '-o', out]);
    const extracted = join(dir, 'extracted');
    mkdirSync(extracted);
    await tar.x({ file: out, cwd: extracted });
    const read = (p: string) => readFileSync(join(extracted, p), 'utf8');
    expect(read('bin/version.txt')).toBe('0.1.0 hi\n');
    expect(read('bin/from-lib.txt')).toBe('from lib\n');
    expect(read('lib/lib.txt')).toBe('from lib\n');
    expect(read('conf/app.conf')).toBe('port=8080\nname=%%client_name%%\n');
    expect(read('conf/license.key')).toBe('licensed locally\n');
    expect(statSync(join(extracted, 'conf/license.key')).mode & 0o777).toBe(0o600);
    expect(() => read('bin/x.tmp')).toThrow();
    expect(JSON.parse(read('flotilla.json')).provenance).toEqual(provenance);

    const desired = JSON.parse((await ok(['desired', 'show', 'test', '--json'])).stdout);
    expect(desired.versions).toEqual({ web: '0.1.0' });
  });

  it('rebuilds a new commit as the next patch version, with the default work directory', async () => {
    const second = commitFiles(join(base, 'app.git'), { 'conf/app.conf': 'port=%%port%% v2\n' });
    const r = await ok([
      'build',
      'web',
      '--local',
      '--source',
      url('app'),
      '--source',
      url('lib'),
      '--macro',
      'greeting=hi',
      '--json',
    ]);
    const printed = JSON.parse(r.stdout);
    expect(printed.version.version).toBe('0.1.1');
    expect(printed.buildLog).toBe(join(dir, 'cache/flotilla/builds/web/logs/0.1.1.log'));
    expect(r.stderr).toBe('');
    const shown = JSON.parse((await ok(['version', 'show', 'web', '0.1.1', '--json'])).stdout);
    expect(shown.manifest.provenance.sources[0].commit).toBe(second);
    expect(readFileSync(join(dir, 'cache/flotilla/builds/web/build/conf/app.conf'), 'utf8')).toBe('port=8080 v2\n');
  });

  it.each([
    [
      'exit code',
      { buildCommands: [{ command: 'sh', args: ['-c', 'echo broken; exit 2'] }] },
      'exit code 2, expected 0',
    ],
    [
      'output match',
      { buildCommands: [{ command: 'echo', args: ['tests FAILED'], outputMatch: 'tests PASSED' }] },
      'output does not match /tests PASSED/',
    ],
  ])('a failing %s check publishes nothing', async (branch, build, reason) => {
    const repo = join(base, 'app.git');
    gitIn(repo, ['checkout', '--quiet', '-b', branch.replace(' ', '-'), 'main']);
    commitFiles(repo, { 'update.json': spec(build) });
    gitIn(repo, ['checkout', '--quiet', 'main']);
    const before = await versions();
    const r = await run([
      'build',
      'web',
      '--local',
      '--source',
      url('app', branch.replace(' ', '-')),
      '--workdir',
      workdir,
    ]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('build failed, nothing published: build.buildCommands[0]');
    expect(r.stderr).toContain(reason);
    expect(r.stderr).toMatch(/--- last lines of output ---\n(broken|tests FAILED)\n/);
    expect(await versions()).toEqual(before);
  });

  it('kills a command that runs past --command-timeout, with what it started', async () => {
    const repo = join(base, 'app.git');
    gitIn(repo, ['checkout', '--quiet', '-b', 'slow', 'main']);
    commitFiles(repo, {
      'update.json': spec({ buildCommands: [{ command: 'sh', args: ['-c', 'sleep 60 & echo $! > pid; wait'] }] }),
    });
    gitIn(repo, ['checkout', '--quiet', 'main']);
    const started = Date.now();
    const r = await run([
      'build',
      'web',
      '1.0.0',
      '--local',
      '--source',
      url('app', 'slow'),
      '--workdir',
      workdir,
      '--command-timeout',
      '1',
    ]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('timed out after 1 s; its process group was killed');
    expect(Date.now() - started).toBeLessThan(20_000);
    const pid = Number(readFileSync(join(workdir, 'source/app/pid'), 'utf8'));
    const state = (() => {
      try {
        return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
      } catch {
        return 'gone';
      }
    })();
    expect(['gone', 'Z']).toContain(state);
    expect(await versions()).not.toContain('1.0.0');
  });

  it('refuses a server build on a server with builds off (the default), a taken version and a bad --source before building', async () => {
    const noBuilder = await run(['build', 'web', '--source', url('app')]);
    expect(noBuilder.status).toBe(1);
    expect(noBuilder.stderr).toContain(
      'this server does not run builds: start `flotilla server` with --build-concurrency',
    );
    const localPrivate = await run(['build', 'web', '--local', '--source', url('app'), '--private-file', 'a.key']);
    expect(localPrivate.status).toBe(2);
    expect(localPrivate.stderr).toContain('a bare path names a file stored on the server');
    const outside = await run([
      'build',
      'web',
      '--local',
      '--source',
      url('app'),
      '--private-file',
      `../x=${licenseFile}`,
    ]);
    expect(outside.status).toBe(2);
    expect(outside.stderr).toContain('--private-file ../x=');
    expect(outside.stderr).toContain('the path may not hold empty, `.` or `..` segments');
    const taken = await run(['build', 'web', '0.1.0', '--local', '--source', url('app'), '--workdir', workdir]);
    expect(taken.status).toBe(1);
    expect(taken.stderr).toContain('version 0.1.0 of service "web" already exists');
    const bad = await run(['build', 'web', '--local', '--source', 'app']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--source app: the name takes');
    const unknown = await run(['build', 'api', '--local', '--source', url('app'), '--workdir', workdir]);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(/^flotilla: .*api/m);
    const badName = await run(['build', 'web', '../x', '--local', '--source', url('app'), '--workdir', workdir]);
    expect(badName.status).toBe(2);
    expect(badName.stderr).toContain('"../x" is not a version name');
    const macro = await run(['build', 'web', '--local', '--source', url('app'), '--macro', 'version=9']);
    expect(macro.status).toBe(2);
    expect(macro.stderr).toContain('%%version%% is set by the build');
  });
});
