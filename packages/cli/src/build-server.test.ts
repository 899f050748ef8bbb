import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tar from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminToken, startTestServer, type TestServer } from '../../server/test/support/server.ts';
import { makeTempDir } from '../../server/test/support/temp-dir.ts';
import { type GitDaemon, gitIn, makeRepo, startGitDaemon } from './build/git-repo.test.helper.ts';
import { runCli } from './run-cli.test.helper.ts';

const spec = (build: unknown) => `${JSON.stringify({ update: [{ service: 'web', build }] }, null, 2)}\n`;

const appFiles = {
  'update.json': spec({
    buildCommands: [{ command: 'sh', args: ['build.sh', '%%version%%', '%%greeting%%'] }],
    copyFiles: [{ sourceFile: 'dist', destinationFile: 'bin' }],
    install: { runService: { command: './bin/web.sh' } },
  }),
  'build.sh': 'mkdir -p dist && echo "$1 $2" > dist/version.txt && echo "built $1"\n',
};
const slowFiles = {
  'update.json': spec({
    buildCommands: [{ command: 'sh', args: ['-c', 'sleep 60 & echo "waiting $$ $!"; wait'] }],
    copyFiles: [],
    install: { runService: { command: './web' } },
  }),
};

const badFiles = {
  'update.json': spec({
    buildCommands: [{ command: 'sh', args: ['-c', 'echo broken; exit 3'] }],
    copyFiles: [],
    install: { runService: { command: './web' } },
  }),
};

const withSubFiles = {
  'update.json': spec({
    buildCommands: [],
    copyFiles: [{ sourceFile: 'vendor/lib/lib.txt', destinationFile: 'lib.txt' }],
    install: { runService: { command: './web' } },
  }),
};

/** Ended: no such process, or a zombie its new parent has not reaped yet. */
function gone(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z') ?? true;
  } catch {
    return true;
  }
}

describe('flotilla build on the server', () => {
  let server: TestServer;
  let daemon: GitDaemon | undefined;
  const cfg = makeTempDir('flotilla-cfg-');
  const base = makeTempDir('flotilla-repos-');
  const dir = makeTempDir('flotilla-build-');
  let appCommit = '';
  let libCommit = '';
  const run = (args: string[]) =>
    runCli(args, { env: { FLOTILLA_SERVER: server.url, FLOTILLA_TOKEN: adminToken, XDG_CONFIG_HOME: cfg } });
  const ok = async (args: string[]) => {
    const r = await run(args);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('flotilla:'))).toEqual([]);
    expect(r.status).toBe(0);
    return r;
  };
  const url = (name: string) => (daemon as GitDaemon).source(name);

  beforeAll(async () => {
    // The builder is the real CLI, started by the server as `flotilla server` would start it.
    const main = fileURLToPath(new URL('./main.ts', import.meta.url));
    server = await startTestServer(
      'sqlite',
      { buildConcurrency: '1' },
      {
        start: { builder: { command: process.execPath, args: ['--conditions=@flotilla/source', main] } },
      },
    );
    appCommit = makeRepo(join(base, 'app.git'), appFiles);
    makeRepo(join(base, 'slow.git'), slowFiles);
    makeRepo(join(base, 'bad.git'), badFiles);
    daemon = await startGitDaemon(base, { push: true });
    // A source whose files come partly from a submodule, served by the same daemon.
    libCommit = makeRepo(join(base, 'lib.git'), { 'lib.txt': 'from the submodule\n' });
    makeRepo(join(base, 'withsub.git'), withSubFiles);
    gitIn(join(base, 'withsub.git'), ['submodule', 'add', '--quiet', (daemon as GitDaemon).url('lib'), 'vendor/lib']);
    gitIn(join(base, 'withsub.git'), ['commit', '--quiet', '-m', 'submodule']);
    await ok(['service', 'create', 'web']);
    await ok(['env', 'create', 'test']);
    writeFileSync(join(dir, 'license.key'), 'licensed to test\n');
    await ok(['private-file', 'put', 'web', 'conf/license.key', join(dir, 'license.key')]);
  });
  afterAll(async () => {
    await daemon?.stop();
    await server?.stop();
  });

  it('queues the build, follows its log, publishes with provenance and the private file, and sets it desired', async () => {
    const r = await ok([
      'build',
      'web',
      '--source',
      url('app'),
      '--macro',
      'greeting=hi',
      '--private-file',
      'conf/license.key',
      '--set-desired',
      'test',
    ]);
    expect(r.stderr).toMatch(/^build \d+ queued on the server/);
    expect(r.stdout).toContain('$ sh build.sh 0.1.0 hi');
    expect(r.stdout).toContain('built 0.1.0');
    expect(r.stdout).toContain('added 1 private files: conf/license.key');
    expect(r.stdout).toMatch(/^published web 0\.1\.0: sha256:[0-9a-f]{64} /m);
    expect(r.stdout).toMatch(/build \d+ succeeded: published web 0\.1\.0\n$/);
    const id = Number(/^build (\d+) queued/.exec(r.stderr)?.[1]);

    const shown = JSON.parse((await ok(['version', 'show', 'web', '0.1.0', '--json'])).stdout);
    const provenance = shown.manifest.provenance;
    expect(provenance.sources).toEqual([
      { name: 'app', url: (daemon as GitDaemon).url('app'), ref: 'main', commit: appCommit },
    ]);
    expect(provenance.builder).toMatch(/^flotilla build \S+ \(on the server\)$/);
    expect(shown.author).toBe(`build ${id}`);

    const out = join(dir, 'web.tar.gz');
    await ok(['version', 'download', 'web', '0.1.0', '-o', out]);
    const extracted = join(dir, 'extracted');
    mkdirSync(extracted);
    await tar.x({ file: out, cwd: extracted });
    expect(readFileSync(join(extracted, 'bin/version.txt'), 'utf8')).toBe('0.1.0 hi\n');
    expect(readFileSync(join(extracted, 'conf/license.key'), 'utf8')).toBe('licensed to test\n');
    expect(statSync(join(extracted, 'conf/license.key')).mode & 0o777).toBe(0o600);
    expect(JSON.parse((await ok(['desired', 'show', 'test', '--json'])).stdout).versions).toEqual({ web: '0.1.0' });

    const job = JSON.parse((await ok(['builds', 'show', String(id), '--json'])).stdout);
    expect(job).toMatchObject({ state: 'succeeded', resultVersion: '0.1.0', privateFiles: ['conf/license.key'] });
    const audit = JSON.parse((await ok(['audit', '--json'])).stdout);
    const actions = JSON.stringify(audit);
    expect(actions).toContain('"build.create"');
    expect(actions).toMatch(new RegExp(`"private-file.read".*"purpose":"build ${id}"`));
    const log = (await ok(['builds', 'log', String(id)])).stdout;
    expect(log).toContain('$ sh build.sh 0.1.0 hi');
    expect(log).toMatch(/build succeeded: 0\.1\.0\n$/);
  });

  it('cancels a running build: its builder stops and nothing is published', async () => {
    const queued = JSON.parse((await ok(['build', 'web', '--source', url('slow'), '--detach', '--json'])).stdout);
    expect(queued.state).toMatch(/queued|running/);
    let pids: number[] = [];
    for (let i = 0; i < 200 && pids.length === 0; i++) {
      const log = (await ok(['builds', 'log', String(queued.id)])).stdout;
      pids = (/waiting (\d+) (\d+)/.exec(log) ?? []).slice(1).map(Number);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(pids).toHaveLength(2);
    const r = await ok(['builds', 'cancel', String(queued.id)]);
    expect(r.stdout).toBe(`build ${queued.id}: cancelled\n`);
    // The build command ran in a process group of its own; it went with the builder.
    for (const pid of pids) expect(gone(pid), `pid ${pid}`).toBe(true);
    const followed = await run(['builds', 'log', String(queued.id), '--follow']);
    expect(followed.stdout).toMatch(/build cancelled: cancelled\n$/);
    const list = JSON.parse((await ok(['builds', 'list', '--json'])).stdout);
    expect(list.builds[0]).toMatchObject({ id: queued.id, state: 'cancelled', resultVersion: null });
    const versions = JSON.parse((await ok(['version', 'list', 'web', '--json'])).stdout);
    expect(versions.versions.map((v: { version: string }) => v.version)).toEqual(['0.1.0']);
    const refused = await run(['build', 'web', '--source', url('app'), '--private-file', 'conf/none.key']);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain('has no private file "conf/none.key"');
  });

  it('reports a failed build with its reason and exit status 1, and leaves no job directory', async () => {
    const failed = await run(['build', 'web', '--source', url('bad')]);
    expect(failed.status).toBe(1);
    expect(failed.stdout).toContain('broken');
    expect(failed.stderr).toMatch(
      /flotilla: build \d+ failed: build failed, nothing published: build\.buildCommands\[0\] \(sh -c .*\): exit code 3, expected 0\n/,
    );
    expect(readdirSync(join(server.dir, 'builds', 'jobs'))).toEqual([]);
  });

  it('checks out the submodules of a source named by --submodules, and records their commits', async () => {
    const without = await run(['build', 'web', '--source', url('withsub')]);
    expect(without.status).toBe(1);
    expect(without.stderr).toContain('vendor/lib/lib.txt');
    const r = await ok(['build', 'web', '--source', url('withsub'), '--submodules', 'withsub']);
    const version = /succeeded: published web (\S+)\n$/.exec(r.stdout)?.[1] as string;
    expect(r.stdout).toContain(`withsub: 1 submodule vendor/lib@${libCommit.slice(0, 12)}`);
    const shown = JSON.parse((await ok(['version', 'show', 'web', version, '--json'])).stdout);
    expect(shown.manifest.provenance.sources[0].submodules).toEqual([{ path: 'vendor/lib', commit: libCommit }]);
    const unknown = await run(['build', 'web', '--source', url('withsub'), '--submodules', 'nope']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('--submodules nope: no --source is named nope');
  });

  it('tags the sources it built with --tag-sources once published, and pushes the tags', async () => {
    const r = await ok(['build', 'web', '--source', url('app'), '--tag-sources', '--macro', 'greeting=tag']);
    const version = /succeeded: published web (\S+)\n$/.exec(r.stdout)?.[1] as string;
    expect(r.stdout).toContain(`tagged app ${appCommit.slice(0, 12)} as web-${version}`);
    expect(gitIn(join(base, 'app.git'), ['rev-parse', `refs/tags/web-${version}^{commit}`])).toBe(appCommit);
    const job = JSON.parse((await ok(['builds', 'list', '--limit', '1', '--json'])).stdout).builds[0];
    expect(job).toMatchObject({ tagSources: true, resultVersion: version });
  });
});
