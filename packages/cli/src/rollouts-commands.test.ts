import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../server/src/db/connection.ts';
import { seedCatalog } from '../../server/src/desired/testing.test.helper.ts';
import { adminToken, startTestServer, type TestServer } from '../../server/test/support/server.ts';
import { makeTempDir } from '../../server/test/support/temp-dir.ts';
import { parseWaves } from './commands/rollouts.ts';
import { runCli } from './run-cli.test.helper.ts';

describe('rollout helpers', () => {
  it('parses selector waves first, then percentages', () => {
    expect(parseWaves('10,50%,100', ['ring=canary'])).toEqual([
      { selector: { ring: 'canary' } },
      { percent: 10 },
      { percent: 50 },
      { percent: 100 },
    ]);
    expect(() => parseWaves('10,x', [])).toThrow(/percentage/);
    expect(() => parseWaves(undefined, [])).toThrow(/--waves/);
    expect(() => parseWaves(undefined, ['ring'])).toThrow(/label/);
  });
});

// The server runs in this process, so the CLI runs asynchronously (spawnSync would block the server).
describe('flotilla rollout commands', () => {
  let server: TestServer;
  let store: Database;
  let env: Record<string, string>;
  const run = (args: string[]) => runCli(args, { env });

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    store = openDatabase(server.database);
    await seedCatalog(store.db, { web: ['1.0', '2.0'] });
    env = {
      FLOTILLA_SERVER: server.url,
      FLOTILLA_TOKEN: adminToken,
      XDG_CONFIG_HOME: makeTempDir('flotilla-cli-rollouts-'),
    };
    expect((await run(['env', 'create', 'prod'])).status).toBe(0);
    expect((await run(['desired', 'set', 'prod', 'web=1.0'])).status).toBe(0);
  });
  afterAll(async () => {
    await store?.close();
    await server?.stop();
  });

  it('starts, shows and aborts a rollout', async () => {
    const bad = await run(['rollout', 'start', 'prod', 'web=2.0', '--waves', '50,10']);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('increasing');
    const badFlag = await run(['rollout', 'start', 'prod', 'web=2.0', '--waves', '10', '--on-error', 'explode']);
    expect(badFlag.status).toBe(2);

    const started = await run([
      'rollout',
      'start',
      'prod',
      'web=2.0',
      '--waves',
      '10,50',
      '--error',
      '0.2',
      '--approval',
      '--comment',
      'web 2',
      '--json',
    ]);
    expect(started.status, started.stderr).toBe(0);
    const rollout = JSON.parse(started.stdout);
    expect(rollout).toMatchObject({ state: 'running', errorThreshold: 0.2, requireApproval: true, targetRevision: 2 });
    expect(rollout.waves).toHaveLength(3);

    const status = await run(['rollout', 'status', 'prod']);
    expect(status.stdout).toContain(`rollout ${rollout.id} in prod: web 2`);
    expect(status.stdout).toMatch(/state (running|waiting_approval), wave 1 of 3, revision 1 → 2/);
    expect(status.stdout).toMatch(/WAVE\s+ADMITS\s+INSTANCES/);
    expect(status.stdout).toMatch(/1 \*\s+10%/);
    const byId = JSON.parse((await run(['rollout', 'status', rollout.id, '--json'])).stdout);
    expect(byId.id).toBe(rollout.id);

    const again = await run(['rollout', 'start', 'prod', 'web=1.0', '--waves', '10']);
    expect(again.status).not.toBe(0);
    expect(again.stderr).toContain('active rollout');

    const aborted = await run(['rollout', 'abort', rollout.id]);
    expect(aborted.status, aborted.stderr).toBe(0);
    expect(aborted.stdout).toContain(`rollout ${rollout.id}: aborted`);
    const shown = await run(['desired', 'show', 'prod', '--json']);
    expect(JSON.parse(shown.stdout)).toMatchObject({ revision: 3, versions: { web: '1.0' } });
    const twice = await run(['rollout', 'pause', rollout.id]);
    expect(twice.status).not.toBe(0);
    expect(twice.stderr).toContain('aborted');
  });

  it('refuses a rollback during a rollout, naming its change, and aborts it with --abort-rollout', async () => {
    // An environment of its own, whatever the test above left running; only the rollbacks go through the CLI.
    const api = (method: string, path: string, body: unknown) =>
      fetch(`${server.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await api('POST', '/api/v1/environments', { name: 'blue' })).status).toBe(201);
    expect((await api('PATCH', '/api/v1/environments/blue/desired', { set: { web: '1.0' } })).status).toBe(200);
    const started = await api('POST', '/api/v1/environments/blue/rollouts', {
      set: { web: '2.0' },
      waves: [{ percent: 50 }],
      minWaveSeconds: 3600,
    });
    expect(started.status).toBe(201);
    const rollout = (await started.json()) as { id: string };
    const refused = await run(['desired', 'rollback', 'blue', '1']);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain(`(web 1.0 → 2.0, running; id ${rollout.id})`);
    expect(refused.stderr).toContain('--abort-rollout');
    const back = await run(['desired', 'rollback', 'blue', '1', '--comment', 'undo 2.0', '--abort-rollout']);
    expect(back.status, back.stderr).toBe(0);
    expect(back.stdout).toContain('undo 2.0');
    const status = await fetch(`${server.url}/api/v1/rollouts/${rollout.id}`, {
      headers: { authorization: `Bearer ${adminToken}` },
    });
    expect(((await status.json()) as { state: string }).state).toBe('aborted');
  });
});
