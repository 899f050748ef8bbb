import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClientProvenance, VersionDetail } from '@flotilla/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminToken, startTestServer, type TestServer } from '../../../server/test/support/server.ts';
import { makeTempDir } from '../../../server/test/support/temp-dir.ts';
import { runCli } from '../run-cli.test.helper.ts';
import { VersionTaken } from './catalog.ts';
import { publishClientVersion } from './client-publish.ts';

// Two builds of one developer version that ran at the same time picked the same generation: the one
// that publishes second takes the next free one, or finds that the first made the same thing.
describe('publishClientVersion', () => {
  let server: TestServer;
  let developerDigest = '';
  const flags = () => ({ server: server.url, token: adminToken, json: true });
  const cli = async (args: string[]) => {
    const r = await runCli(args, { env: { FLOTILLA_SERVER: server.url, FLOTILLA_TOKEN: adminToken } });
    expect(r.status, r.stderr).toBe(0);
    return r.stdout;
  };

  /** A finished client build's directory, as runClientBuild leaves it, for `generation`. */
  function buildDir(inputs: string, generation: number): string {
    const dir = join(makeTempDir('flotilla-client-publish-'), 'build');
    mkdirSync(dir, { recursive: true });
    const client: ClientProvenance = {
      builder: 'flotilla client-version build test',
      developerVersion: '1.0.0',
      developerDigest,
      generation,
      settings: [],
      macros: [],
      inputs,
      log: { sha256: '0'.repeat(64), bytes: 0 },
      startedAt: new Date().toISOString(),
      finishedAt: new Date().toISOString(),
    };
    writeFileSync(join(dir, 'flotilla.json'), JSON.stringify({ run: { command: './run.sh' }, client }));
    writeFileSync(join(dir, 'run.sh'), `#!/bin/sh\necho ${inputs}\n`);
    return dir;
  }
  const publish = (dir: string, inputs: string, generation: number, said: string[]) =>
    publishClientVersion({
      service: 'web',
      developerVersion: '1.0.0',
      consumer: null,
      inputs,
      buildDir: dir,
      generation,
      flags: flags(),
      say: (line) => said.push(line),
    });

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    await cli(['service', 'create', 'web']);
    const tree = makeTempDir('flotilla-developer-');
    writeFileSync(join(tree, 'flotilla.json'), JSON.stringify({ run: { command: './run.sh' } }));
    writeFileSync(join(tree, 'run.sh'), '#!/bin/sh\n');
    await cli(['version', 'publish', 'web', '1.0.0', tree]);
    const detail = JSON.parse(await cli(['version', 'show', 'web', '1.0.0', '--json'])) as VersionDetail;
    developerDigest = detail.digest;
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('publishes under the generation it was given when that is free', async () => {
    const said: string[] = [];
    const outcome = await publish(buildDir('a'.repeat(64), 0), 'a'.repeat(64), 0, said);
    expect(outcome.version).toBe('1.0.0+client');
    expect('published' in outcome).toBe(true);
    expect(said).toEqual([]);
  });

  it('takes the next free generation when another build published the one it picked, and says so', async () => {
    const said: string[] = [];
    const dir = buildDir('b'.repeat(64), 0);
    const outcome = await publish(dir, 'b'.repeat(64), 0, said);
    expect(outcome.version).toBe('1.0.0_1+client');
    expect('published' in outcome && outcome.published.version).toBe('1.0.0_1+client');
    expect(said).toEqual(['1.0.0+client was published meanwhile by another build; this one becomes generation 1']);
    const manifest = JSON.parse(readFileSync(join(dir, 'flotilla.json'), 'utf8')) as { client: ClientProvenance };
    expect(manifest.client.generation).toBe(1);
  });

  it('publishes nothing when the build that got there first made the same thing', async () => {
    const said: string[] = [];
    const outcome = await publish(buildDir('b'.repeat(64), 1), 'b'.repeat(64), 1, said);
    expect(outcome).toMatchObject({ version: '1.0.0_1+client', same: { version: '1.0.0_1+client' } });
    expect(said).toEqual([]);
  });

  it('a taken developer version name is VersionTaken, which the renaming is for', async () => {
    const tree = makeTempDir('flotilla-developer-');
    writeFileSync(join(tree, 'flotilla.json'), JSON.stringify({ run: { command: './run.sh' } }));
    const { publishVersion } = await import('./catalog.ts');
    await expect(publishVersion('web', '1.0.0', tree, flags())).rejects.toBeInstanceOf(VersionTaken);
  });
});
