import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeArtifactDir } from '../../server/src/catalog/archive.test.helper.ts';
import { adminToken, startTestServer, type TestServer } from '../../server/test/support/server.ts';
import { makeTempDir } from '../../server/test/support/temp-dir.ts';
import { runCli } from './run-cli.test.helper.ts';

describe('flotilla delete, restore and trash commands', () => {
  let server: TestServer;
  const cfg = makeTempDir('flotilla-cfg-');
  const run = (args: string[]) =>
    runCli(args, { env: { FLOTILLA_SERVER: server.url, FLOTILLA_TOKEN: adminToken, XDG_CONFIG_HOME: cfg } });
  const ok = async (args: string[]) => {
    const r = await run(args);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    return r.stdout;
  };

  beforeAll(async () => {
    server = await startTestServer('sqlite');
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('deletes and restores a version, a profile, a service and an environment', async () => {
    await ok(['service', 'create', 'web']);
    await ok(['profile', 'set', 'core', 'web']);
    await ok(['env', 'create', 'staging']);
    const dir = makeArtifactDir({ run: { command: './bin/app' } }, { 'bin/app': '#!/bin/sh\n' });
    await ok(['version', 'publish', 'web', '1.0.0', dir]);
    await ok(['version', 'publish', 'web', '1.1.0', dir]);
    await ok(['desired', 'set', 'staging', 'web=1.1.0']);

    const pinned = await run(['version', 'delete', 'web', '1.1.0']);
    expect(pinned.status).not.toBe(0);
    expect(pinned.stderr).toContain('named by a recent desired list');
    expect(await ok(['version', 'delete', 'web', '1.0.0'])).toMatch(
      /^deleted web 1\.0\.0; restorable until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d: flotilla version restore web 1\.0\.0\n$/,
    );
    expect(await ok(['version', 'list', 'web'])).not.toContain('1.0.0');
    expect(await ok(['profile', 'delete', 'core'])).toContain('flotilla profile restore core');
    expect(await ok(['env', 'delete', 'staging'])).toContain('flotilla env restore staging');

    const listed = (await ok(['trash'])).split('\n');
    expect(listed[0]).toMatch(/^ID\s+KIND\s+NAME\s+VERSION\s+DELETED BY\s+DELETED\s+PURGE AFTER$/);
    expect(listed.slice(1, 4).map((l) => l.split(/\s+/).slice(1, 3).join(' '))).toEqual([
      'environment staging',
      'profile core',
      'version web',
    ]);
    const versions = JSON.parse(await ok(['trash', 'list', '--kind', 'version', '--json']));
    expect(versions.items).toEqual([expect.objectContaining({ kind: 'version', name: 'web', version: '1.0.0' })]);

    expect(await ok(['version', 'restore', 'web', '1.0.0'])).toMatch(/^restored web 1\.0\.0 \(deleted .* by /);
    expect(await ok(['version', 'list', 'web'])).toContain('1.0.0');
    expect(await ok(['profile', 'restore', 'core'])).toContain('restored profile core');
    expect(await ok(['env', 'restore', 'staging'])).toContain('restored environment staging');
    expect(await ok(['desired', 'show', 'staging'])).toContain('1.1.0');
    expect(await ok(['trash'])).toBe('nothing deleted to restore\n');

    const missing = await run(['service', 'restore', 'web']);
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toContain('no deleted service "web" to restore');
  });

  it('restores by id, refuses a taken name, and purges only with --yes', async () => {
    await ok(['service', 'create', 'tmp']);
    await ok(['service', 'delete', 'tmp']);
    await ok(['service', 'create', 'tmp']);
    const taken = await run(['service', 'restore', 'tmp']);
    expect(taken.status).not.toBe(0);
    expect(taken.stderr).toContain('a service named "tmp" exists now');
    expect(taken.stderr).toContain('flotilla trash purge ');
    const [item] = JSON.parse(await ok(['trash', 'list', '--kind', 'service', '--json'])).items;
    const refused = await run(['trash', 'purge', item.id]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('add --yes');
    await ok(['service', 'delete', 'tmp']);
    expect(await ok(['trash', 'restore', item.id])).toBe('restored service tmp\n');
    const [newer] = JSON.parse(await ok(['trash', 'list', '--json'])).items;
    expect(await ok(['trash', 'purge', newer.id, '--yes'])).toBe('purged service tmp\n');
    expect(await ok(['trash'])).toBe('nothing deleted to restore\n');
  });
});
