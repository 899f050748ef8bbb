import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tar from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenStore } from '../../server/src/auth/tokens.ts';
import { openDatabase } from '../../server/src/db/connection.ts';
import { agentCredentialFor } from '../../server/test/support/agent-credential.ts';
import { adminToken, startTestServer, type TestServer } from '../../server/test/support/server.ts';
import { makeTempDir } from '../../server/test/support/temp-dir.ts';
import { commitFiles, type GitDaemon, gitIn, makeRepo, startGitDaemon } from './build/git-repo.test.helper.ts';
import { buildProgram } from './program.ts';
import { runCli } from './run-cli.test.helper.ts';

// The developer version's tree: settings a client completes, and a macro left for the client.
const developerFiles: Record<string, string> = {
  'flotilla.json': `${JSON.stringify({ run: { command: './bin/web.sh' } }, null, 2)}\n`,
  'bin/web.sh': '#!/bin/sh\nexec sleep 1000\n',
  'conf/app.conf': 'http { host = 0.0.0.0, port = 8080 }\nclient = "%%client_name%%"\n',
  'conf/limits.json': '{\n  "max": 10,\n  "keep": true\n}\n',
};

const acmeFiles: Record<string, string> = {
  'conf/app.conf': 'http.port = 9443\n',
  'conf/app.conf.defines': 'client_name=ACME\n',
  'conf/limits.json': '{ "max": 50 }\n',
  'conf/acme.pem': 'not a real certificate\n',
};

describe('docs/client-versions.md stays true to `flotilla client-version build`', () => {
  it('documents every option', () => {
    const doc = readFileSync(new URL('../../../docs/client-versions.md', import.meta.url), 'utf8');
    const cmd = buildProgram().commands.find((c) => c.name() === 'client-version');
    const build = cmd?.commands.find((c) => c.name() === 'build');
    expect(build).toBeDefined();
    for (const option of build?.options ?? []) {
      if (!option.hidden) expect(doc, option.long).toContain(`\`${option.long}`);
    }
  });
});

describe('flotilla client-version build', () => {
  let server: TestServer;
  let daemon: GitDaemon | undefined;
  const cfg = makeTempDir('flotilla-cfg-');
  const base = makeTempDir('flotilla-repos-');
  const dir = makeTempDir('flotilla-client-');
  const workdir = join(dir, 'work');
  let agentToken = '';
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
  const clientBuild = (settings: string, ...more: string[]) =>
    run([
      'client-version',
      'build',
      'web',
      '--from',
      '3.5.1',
      '--local',
      '--settings',
      settings,
      '--workdir',
      workdir,
      ...more,
    ]);
  const all = async () =>
    (
      JSON.parse((await ok(['version', 'list', 'web', '--kind', 'all', '--json'])).stdout) as {
        versions: { version: string }[];
      }
    ).versions.map((v) => v.version);
  /** The files of a published version, unpacked. */
  const unpack = async (version: string) => {
    const out = join(makeTempDir('flotilla-dl-'), 'v.tar.gz');
    await ok(['version', 'download', 'web', version, '-o', out]);
    const to = join(makeTempDir('flotilla-x-'), 'tree');
    mkdirSync(to);
    await tar.x({ file: out, cwd: to });
    return (path: string) => readFileSync(join(to, path), 'utf8');
  };

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    const db = openDatabase(server.database);
    agentToken = (
      await new TokenStore(db.db).create('agent-1', 'agent', undefined, { kind: 'agent', environment: 'test' })
    ).token;
    await db.close();
    makeRepo(join(base, 'acme.git'), acmeFiles);
    daemon = await startGitDaemon(base);
    await ok(['service', 'create', 'web']);
    await ok(['env', 'create', 'test']);
    const tree = join(dir, 'developer');
    for (const [path, content] of Object.entries(developerFiles)) {
      mkdirSync(join(tree, path, '..'), { recursive: true });
      writeFileSync(join(tree, path), content);
    }
    await ok(['version', 'publish', 'web', '3.5.1', tree]);
  });
  afterAll(async () => {
    await daemon?.stop();
    await server?.stop();
  });

  it('names the first client version like its developer version, with the settings applied', async () => {
    const acmeCommit = gitIn(join(base, 'acme.git'), ['rev-parse', 'HEAD']);
    const r = await clientBuild((daemon as GitDaemon).source('acme'), '--macro', 'region=eu');
    expect(r.stderr.split('\n').filter((l) => l.startsWith('flotilla:'))).toEqual([]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^published web 3\.5\.1\+client: sha256:[0-9a-f]{64} /m);
    expect(await all()).toEqual(['3.5.1+client', '3.5.1']);

    const read = await unpack('3.5.1+client');
    expect(read('conf/app.conf')).toContain('# ---- overlay: acme/conf/app.conf ----\nhttp.port = 9443');
    expect(read('conf/app.conf')).toContain('client = "ACME"');
    expect(JSON.parse(read('conf/limits.json'))).toEqual({ max: 50, keep: true });
    expect(read('conf/acme.pem')).toBe('not a real certificate\n');
    const manifest = JSON.parse(read('flotilla.json'));
    expect(manifest.run).toEqual({ command: './bin/web.sh' });
    expect(manifest.client).toMatchObject({
      developerVersion: '3.5.1',
      generation: 0,
      settings: [{ name: 'acme', url: (daemon as GitDaemon).url('acme'), ref: 'main', commit: acmeCommit }],
      macros: ['region'],
    });
    const log = readFileSync(join(workdir, 'logs', '3.5.1.log'));
    expect(manifest.client.log).toEqual({ sha256: createHash('sha256').update(log).digest('hex'), bytes: log.length });

    const shown = JSON.parse((await ok(['version', 'show', 'web', '3.5.1+client', '--json'])).stdout);
    expect(shown).toMatchObject({ kind: 'client', name: '3.5.1', client: { developerVersion: '3.5.1' } });
    expect(JSON.parse(shown.signedManifest).manifest.client).toEqual(manifest.client);
    // The developer version is unchanged under the same name.
    expect((await unpack('3.5.1'))('conf/app.conf')).toBe(developerFiles['conf/app.conf']);
  });

  it('publishes nothing for the same inputs, and the next generation when settings change', async () => {
    const same = await clientBuild((daemon as GitDaemon).source('acme'), '--macro', 'region=eu');
    expect(same.status).toBe(0);
    expect(same.stdout).toBe(
      'nothing published: web 3.5.1+client was made from the same developer version, settings commits and macros\n',
    );
    expect(await all()).toEqual(['3.5.1+client', '3.5.1']);

    const second = commitFiles(join(base, 'acme.git'), { 'conf/app.conf': 'http.port = 9444\n' });
    const changed = await clientBuild((daemon as GitDaemon).source('acme'), '--macro', 'region=eu', '--json');
    expect(changed.status).toBe(0);
    expect(JSON.parse(changed.stdout).published).toMatchObject({
      version: '3.5.1_1+client',
      kind: 'client',
      client: { generation: 1, settings: [{ name: 'acme', commit: second }] },
    });
    // A different macro value is a different input too.
    writeFileSync(join(dir, 'acme.key'), 'acme secret\n');
    const macro = await clientBuild(
      (daemon as GitDaemon).source('acme'),
      ...['--macro', 'region=us', '--private-file', `conf/acme.key=${join(dir, 'acme.key')}`],
    );
    expect(macro.stdout).toMatch(/^published web 3\.5\.1_2\+client: /m);
    const withKey = await unpack('3.5.1_2+client');
    expect(withKey('conf/acme.key')).toBe('acme secret\n');
    expect(JSON.parse(withKey('flotilla.json')).client.privateFiles).toEqual(['conf/acme.key']);
    expect(await all()).toEqual(['3.5.1_2+client', '3.5.1_1+client', '3.5.1+client', '3.5.1']);

    const listed = (await ok(['client-version', 'list', 'web'])).stdout.split('\n');
    expect(listed[0]).toMatch(/^VERSION\s+FROM\s+SETTINGS\s+CREATED\s+DIGEST$/);
    expect(listed[1]).toMatch(new RegExp(`^3\\.5\\.1_2\\+client\\s+3\\.5\\.1\\s+acme@${second.slice(0, 12)}\\s`));
    const both = (await ok(['version', 'list', 'web', '--kind', 'all'])).stdout.split('\n');
    expect(both[0]).toMatch(/^VERSION\s+KIND\s+FROM\s+NOTES\s+AUTHOR/);
    expect(both[1]).toMatch(/^3\.5\.1_2\+client\s+client\s+3\.5\.1\s/);
    expect(both[4]).toMatch(/^3\.5\.1\s+developer\s/);
    // The plain listing stays the developer versions'.
    expect((await ok(['version', 'list', 'web', '--json'])).stdout).not.toContain('+client');
  });

  it.each([
    [
      'an undefined macro',
      { 'conf/app.1.conf': 'a = 1\nb = "%%missing%%"\n' },
      'acme/conf/app.1.conf:2: macro %%missing%% is not defined',
    ],
    [
      'a file that does not parse',
      { 'conf/limits.json': '{\n  "max": 5,\n  oops\n}\n' },
      'acme/conf/limits.json:3: not valid JSON',
    ],
  ])('stops on %s with the file and line, publishing nothing', async (branch, files, reason) => {
    const repo = join(base, 'acme.git');
    const name = branch.replace(/ /g, '-');
    gitIn(repo, ['checkout', '--quiet', '-b', name, 'main']);
    commitFiles(repo, files);
    gitIn(repo, ['checkout', '--quiet', 'main']);
    const before = await all();
    const r = await clientBuild((daemon as GitDaemon).source('acme', name));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`client build failed, nothing published: ${reason}`);
    expect(await all()).toEqual(before);
  });

  it('serves a desired client version to agents as the client artifact', async () => {
    const r = await ok(['desired', 'set', 'test', 'web=3.5.1_1+client']);
    expect(r.stdout).toContain('3.5.1_1+client');
    const credential = await agentCredentialFor(server.url, agentToken, 'host-1');
    const auth = { authorization: `Bearer ${credential}` };
    const view = (await (await fetch(`${server.url}/api/v1/agent/desired`, { headers: auth })).json()) as {
      services: { service: string; version: string; digest: string; artifactUrl: string }[];
    };
    expect(view.services).toEqual([expect.objectContaining({ service: 'web', version: '3.5.1_1+client' })]);
    const entry = view.services[0] as (typeof view.services)[number];
    const bytes = Buffer.from(
      await (await fetch(`${server.url}${entry.artifactUrl}`, { headers: auth })).arrayBuffer(),
    );
    const shown = JSON.parse((await ok(['version', 'show', 'web', '3.5.1_1+client', '--json'])).stdout);
    expect(`sha256:${createHash('sha256').update(bytes).digest('hex')}`).toBe(shown.digest);
    expect(entry.digest).toBe(shown.digest);
  });

  it('refuses a client version as --from, and private files and --workdir where they do not apply, before any work', async () => {
    const fromClient = await run(['client-version', 'build', 'web', '--from', '3.5.1+client', '--local']);
    expect(fromClient.status).toBe(2);
    expect(fromClient.stderr).toContain('a client version is made from a developer version');
    const privateFile = await run([
      'client-version',
      'build',
      'web',
      '--from',
      '3.5.1',
      '--local',
      '--private-file',
      'k.pem',
    ]);
    expect(privateFile.status).toBe(2);
    expect(privateFile.stderr).toContain('a bare path names a file stored on the server');
    const serverWorkdir = await run(['client-version', 'build', 'web', '--from', '3.5.1', '--workdir', workdir]);
    expect(serverWorkdir.status).toBe(2);
    expect(serverWorkdir.stderr).toContain('--workdir is for --local builds');
    // Without --local the build is queued on the server, which this one does not run.
    const queued = await run(['client-version', 'build', 'web', '--from', '3.5.1']);
    expect(queued.status).not.toBe(0);
    expect(queued.stderr).toContain('this server does not run builds');
  });
});
