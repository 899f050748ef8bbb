import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tar from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeArtifactDir } from '../../server/src/catalog/archive.test.helper.ts';
import { adminToken, startTestServer, type TestServer } from '../../server/test/support/server.ts';
import { makeTempDir } from '../../server/test/support/temp-dir.ts';
import { runCli } from './run-cli.test.helper.ts';

describe('flotilla service, profile and version commands', () => {
  let server: TestServer;
  const run = (args: string[]) =>
    runCli(args, { env: { FLOTILLA_SERVER: server.url, FLOTILLA_TOKEN: adminToken, XDG_CONFIG_HOME: cfg } });
  const ok = async (args: string[]) => {
    const r = await run(args);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    return r.stdout;
  };
  const cfg = makeTempDir('flotilla-cfg-');

  beforeAll(async () => {
    server = await startTestServer('sqlite');
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('creates services and profiles and lists them', async () => {
    expect(await ok(['service', 'list'])).toBe('no services yet: flotilla service create <name>\n');
    const created = await ok(['service', 'create', 'web', '--description', 'front end']);
    expect(created).toMatch(/^NAME\s+DESCRIPTION\s+MAX HISTORY\nweb\s+front end\s+\d+\n$/);
    await ok(['service', 'create', 'api']);
    const list = JSON.parse(await ok(['service', 'list', '--json']));
    expect(list.services.map((s: { name: string }) => s.name)).toEqual(['api', 'web']);
    expect(await ok(['profile', 'set', 'core', 'web', 'api'])).toContain('api web');
    expect(await ok(['profile', 'list'])).toMatch(/core\s+api web/);
    const bad = await run(['profile', 'set', 'core', 'nope']);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('unknown service(s): nope');
  });

  it('publishes a directory, lists, shows and downloads identical bytes', async () => {
    const dir = makeArtifactDir({ run: { command: './bin/app' } }, { 'bin/app': '#!/bin/sh\necho hi\n' });
    const published = JSON.parse(await ok(['version', 'publish', 'web', '1.2.3', dir, '--notes', 'first', '--json']));
    expect(published).toMatchObject({ service: 'web', version: '1.2.3', notes: 'first' });
    expect(published.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    await ok(['version', 'publish', 'web', '1.3.0', dir]);

    // Readable headers, the notes, who published it and when, in local time.
    const listed = (await ok(['version', 'list', 'web'])).split('\n');
    expect(listed[0]).toMatch(/^VERSION\s+NOTES\s+AUTHOR\s+CREATED\s+SIZE\s+DIGEST$/);
    expect(listed[1]).toMatch(
      /^1\.3\.0\s+FLOTILLA_ADMIN_TOKEN\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+\d+ B\s+sha256:[0-9a-f]{12}$/,
    );
    expect(listed[2]).toMatch(/^1\.2\.3\s+first\s+FLOTILLA_ADMIN_TOKEN\s+\d{4}-/);
    expect(await ok(['version', 'list', 'api'])).toBe(
      'no versions of api yet: flotilla version publish api <version> <path>\n',
    );
    const shown = await ok(['version', 'show', 'web', '1.2.3']);
    expect(shown).toContain(published.digest);
    expect(shown).toContain('./bin/app');

    const out = join(makeTempDir('flotilla-dl-'), 'web.tar.gz');
    expect(await ok(['version', 'download', 'web', '1.2.3', '-o', out])).toContain('verified');
    const served = await fetch(`${server.url}/api/v1/services/web/versions/1.2.3/artifact`, {
      headers: { authorization: `Bearer ${adminToken}` },
    });
    expect(readFileSync(out).equals(Buffer.from(await served.arrayBuffer()))).toBe(true);
    const names: string[] = [];
    await tar.t({ file: out, onReadEntry: (e) => names.push(e.path) });
    expect(names).toEqual(expect.arrayContaining(['./flotilla.json', './bin/app']));

    const again = await run(['version', 'publish', 'web', '1.2.3', dir]);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain('already exists');
    const noManifest = await run(['version', 'publish', 'web', '2.0.0', makeArtifactDir(undefined, { a: 'b' })]);
    expect(noManifest.status).toBe(2);
    expect(noManifest.stderr).toContain('no flotilla.json');
  });
});
