// End to end: client versions built as jobs of a real `flotilla server` (with a private file), and a
// consumer server that asks its provider to build one with its own settings, then receives it.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tar from 'tar';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeArtifact } from '../../server/src/catalog/archive.test.helper.ts';
import { callApi } from '../../server/test/support/api.ts';
import { adminToken } from '../../server/test/support/server.ts';
import { type SpawnedServer, spawnServer } from '../../server/test/support/spawn-server.ts';
import { makeTempDir } from '../../server/test/support/temp-dir.ts';
import { type GitDaemon, makeRepo, startGitDaemon } from '../src/build/git-repo.test.helper.ts';
import { runCli } from '../src/run-cli.test.helper.ts';
import { eventually } from './agent-e2e.test.helper.ts';

const developerFiles = { 'conf/app.json': '{\n  "port": 8080,\n  "client": "none"\n}\n' };

describe('client builds on the server and for a consumer', () => {
  let provider: SpawnedServer;
  let consumer: SpawnedServer;
  let daemon: GitDaemon;
  let otherToken = '';
  let acmeToken = '';
  const dir = makeTempDir('flotilla-client-builds-');
  const repos = makeTempDir('flotilla-settings-repos-');
  const env = { FLOTILLA_ADMIN_TOKEN: adminToken };
  const cli = (server: SpawnedServer, args: string[]) =>
    runCli([...args, '--server', server.url, '--token', adminToken], {
      env: { XDG_CONFIG_HOME: join(dir, 'cfg'), XDG_CACHE_HOME: join(dir, 'cache') },
    });
  const ok = async (server: SpawnedServer, args: string[]) => {
    const r = await cli(server, args);
    expect(r.status, `${args.join(' ')}\n${r.stderr}`).toBe(0);
    return r;
  };
  const unpack = async (server: SpawnedServer, version: string) => {
    const out = join(dir, `${version}.tar.gz`);
    await ok(server, ['version', 'download', 'web', version, '-o', out]);
    const to = join(dir, `unpacked-${version}`);
    mkdirSync(to);
    await tar.x({ file: out, cwd: to });
    return (path: string) => readFileSync(join(to, path), 'utf8');
  };

  beforeAll(async () => {
    makeRepo(join(repos, 'base.git'), { 'conf/app.json': '{ "client": "base" }\n' });
    makeRepo(join(repos, 'acme/acme.git'), { 'conf/app.json': '{ "client": "acme", "port": 9443 }\n' });
    makeRepo(join(repos, 'acme-other/x.git'), { 'conf/app.json': '{ "client": "other" }\n' });
    daemon = await startGitDaemon(repos);
    provider = await spawnServer(
      ['--data-dir', makeTempDir('flotilla-provider-'), '--geodb', 'off', '--build-concurrency', '1'],
      env,
    );
    await callApi(provider.url, 'POST', '/api/v1/services', { body: { name: 'web' } });
    await callApi(provider.url, 'PUT', '/api/v1/profiles/partner', { body: { services: ['web'] } });
    const artifact = await makeArtifact({ run: { command: './bin/web.sh' } }, developerFiles);
    const res = await callApi(provider.url, 'PUT', '/api/v1/services/web/versions/3.5.1', {
      raw: readFileSync(artifact),
    });
    expect(res.status).toBe(201);
    writeFileSync(join(dir, 'license.key'), 'licensed to the provider\n');
    await ok(provider, ['private-file', 'put', 'web', 'conf/license.key', join(dir, 'license.key')]);
    // acme may have settings built from its own directory of the git server only.
    const prefix = daemon.url('acme/').replace(/\.git$/, '');
    const acme = await ok(provider, [
      ...['consumer', 'create', 'acme', '--profile', 'partner', '--settings-url', prefix, '--json'],
    ]);
    acmeToken = JSON.parse(acme.stdout).token;
    otherToken = JSON.parse(
      (await ok(provider, ['consumer', 'create', 'other', '--profile', 'partner', '--json'])).stdout,
    ).token;
    consumer = await spawnServer(
      ['--data-dir', makeTempDir('flotilla-consumer-'), '--geodb', 'off', '--provider-url', provider.url],
      { ...env, FLOTILLA_PROVIDER_TOKEN: acmeToken },
    );
  }, 120_000);

  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') {
      console.error(provider?.output().split('\n').slice(-40).join('\n'));
      console.error(consumer?.output().split('\n').slice(-40).join('\n'));
    }
  });

  afterAll(async () => {
    for (const server of [consumer, provider]) {
      if (server && server.child.exitCode === null) {
        server.child.kill('SIGTERM');
        await server.exited;
      }
    }
    await daemon?.stop();
  });

  it('builds a client version on the server with a private file, and records it', async () => {
    const r = await ok(provider, [
      ...['client-version', 'build', 'web', '--from', '3.5.1', '--settings', daemon.source('base')],
      ...['--private-file', 'conf/license.key'],
    ]);
    expect(r.stderr).toMatch(/^build \d+ queued on the server/);
    expect(r.stdout).toContain('added 1 private files: conf/license.key');
    expect(r.stdout).toMatch(/build \d+ succeeded: published web 3\.5\.1\+client\n$/);
    const id = Number(/^build (\d+) queued/.exec(r.stderr)?.[1]);
    const shown = JSON.parse((await ok(provider, ['version', 'show', 'web', '3.5.1+client', '--json'])).stdout);
    expect(shown.manifest.client).toMatchObject({
      developerVersion: '3.5.1',
      privateFiles: ['conf/license.key'],
      builder: expect.stringMatching(/\(on the server\)$/),
    });
    expect(shown.manifest.client.consumer).toBeUndefined();
    const read = await unpack(provider, '3.5.1+client');
    expect(JSON.parse(read('conf/app.json'))).toEqual({ port: 8080, client: 'base' });
    expect(read('conf/license.key')).toBe('licensed to the provider\n');
    const job = JSON.parse((await ok(provider, ['builds', 'show', String(id), '--json'])).stdout);
    expect(job).toMatchObject({ kind: 'client', from: '3.5.1', consumer: null, resultVersion: '3.5.1+client' });
    const audit = JSON.stringify(JSON.parse((await ok(provider, ['audit', '--json'])).stdout));
    expect(audit).toMatch(new RegExp(`"private-file.read".*"purpose":"build ${id}"`));
    // The same inputs again: the job succeeds with the version there is, and nothing new is published.
    const again = await ok(provider, [
      ...['client-version', 'build', 'web', '--from', '3.5.1', '--settings', daemon.source('base')],
      ...['--private-file', 'conf/license.key'],
    ]);
    expect(again.stdout).toContain('nothing published: web 3.5.1+client');
    expect(again.stdout).toMatch(/succeeded: published web 3\.5\.1\+client\n$/);
  }, 120_000);

  it('a consumer has the provider build its client version, receives it, and no other consumer sees it', async () => {
    const r = await ok(consumer, [
      ...['federation', 'client-build', 'web', '--from', '3.5.1', '--settings', `acme=${daemon.url('acme/acme')}#main`],
    ]);
    expect(r.stdout).toContain('the new client version is 3.5.1_1+client');
    expect(r.stdout).toMatch(/build \d+ at the provider succeeded: web 3\.5\.1_1\+client\n/);
    expect(r.stdout).toContain("web 3.5.1_1+client is in this server's catalog");
    const received = JSON.parse((await ok(consumer, ['version', 'show', 'web', '3.5.1_1+client', '--json'])).stdout);
    expect(received.manifest.client).toMatchObject({ consumer: 'acme', developerVersion: '3.5.1' });
    expect(received.client.consumer).toBe('acme');
    const read = await unpack(consumer, '3.5.1_1+client');
    expect(JSON.parse(read('conf/app.json'))).toEqual({ port: 9443, client: 'acme' });
    // The provider's own client version (with its private file) never reaches a consumer.
    const all = JSON.parse((await ok(consumer, ['version', 'list', 'web', '--kind', 'all', '--json'])).stdout);
    expect(all.versions.map((v: { version: string }) => v.version).sort()).toEqual(['3.5.1', '3.5.1_1+client']);
    const listed = await ok(consumer, ['federation', 'client-builds']);
    expect(listed.stdout).toMatch(/3\.5\.1_1\+client\s+succeeded/);
    const onProvider = await ok(provider, ['builds', 'list']);
    expect(onProvider.stdout).toContain('client of 3.5.1 for acme');

    const asOther = (path: string, init: { method?: string; body?: unknown } = {}) =>
      callApi(provider.url, init.method ?? 'GET', path, { token: otherToken, body: init.body });
    expect((await asOther('/api/v1/federation/versions/web/3.5.1_1+client')).status).toBe(404);
    expect((await asOther('/api/v1/federation/versions/web/3.5.1+client')).status).toBe(404);
    const feed = (await asOther('/api/v1/federation/feed')).body;
    expect(feed.versions.map((v: { version: string }) => v.version)).toEqual(['3.5.1']);
    const job = (await callApi(consumer.url, 'GET', '/api/v1/federation/provider/client-builds')).body.builds[0];
    expect((await asOther(`/api/v1/federation/client-builds/${job.id}`)).status).toBe(404);
    expect((await asOther(`/api/v1/federation/client-builds/${job.id}/log`)).status).toBe(404);
    expect((await asOther(`/api/v1/federation/client-builds/${job.id}/cancel`, { method: 'POST' })).status).toBe(404);
    const refused = await asOther('/api/v1/federation/client-builds', {
      method: 'POST',
      body: { service: 'web', from: '3.5.1', settings: [{ name: 'a', url: daemon.url('acme/acme'), ref: 'main' }] },
    });
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toContain('allows it no settings URLs');
  }, 180_000);

  it("refuses settings outside the consumer's prefixes, with the provider's reason", async () => {
    const root = daemon.url('x').replace(/x\.git$/, '');
    const outside = ['file:///etc/flotilla', `${root}base.git`, `${root}acme/../base.git`, `${root}acme-other/x.git`];
    for (const url of outside) {
      const r = await cli(consumer, ['federation', 'client-build', 'web', '--from', '3.5.1', '--settings', `s=${url}`]);
      expect(r.status, url).not.toBe(0);
      expect(r.stderr).toContain('not under a URL prefix the provider allows "acme"');
    }
    const missing = await cli(consumer, ['federation', 'client-build', 'web', '--from', '9.9.9']);
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toContain('has no version 9.9.9');
    // Nothing was queued for them.
    const jobs = (await callApi(provider.url, 'GET', '/api/v1/builds?kind=client')).body.builds;
    expect(jobs).toHaveLength(3);
    await eventually('the consumer reports to the provider', async () => {
      const f = (await callApi(provider.url, 'GET', '/api/v1/consumers/acme')).body;
      return f.lastSeenAt ? f : undefined;
    });
  }, 60_000);
});
