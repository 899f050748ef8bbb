import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callApi } from '../../server/test/support/api.ts';
import { adminToken, startTestServer, type TestServer } from '../../server/test/support/server.ts';
import { makeTempDir } from '../../server/test/support/temp-dir.ts';
import { runCli } from './run-cli.test.helper.ts';

const hour = 3_600_000;

describe('the fleet and faults views of a consumer server (--consumer)', () => {
  let server: TestServer;
  const cfg = makeTempDir('flotilla-cfg-');
  const run = (args: string[]) =>
    runCli(args, { env: { FLOTILLA_SERVER: server.url, FLOTILLA_TOKEN: adminToken, XDG_CONFIG_HOME: cfg } });

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    for (const name of ['web', 'api']) await callApi(server.url, 'POST', '/api/v1/services', { body: { name } });
    await callApi(server.url, 'PUT', '/api/v1/profiles/partner', { body: { services: ['web', 'api'] } });
    const created = await callApi(server.url, 'POST', '/api/v1/consumers', {
      body: { name: 'acme', profile: 'partner' },
    });
    const now = Date.now();
    const at = (ago: number) => new Date(now - ago).toISOString();
    const instance = (instanceId: string, service: string, version: string, state: string) => ({
      environment: 'prod',
      instanceId,
      service,
      version,
      state,
      reportedAt: at(0),
    });
    const fault = (id: string, service: string, ago: number) => ({
      id,
      environment: 'prod',
      instanceId: 'h1',
      service,
      version: '1.0.0',
      reason: 'exit',
      at: at(ago),
    });
    const sent = await callApi(server.url, 'POST', '/api/v1/federation/report', {
      token: created.body.token,
      body: {
        instances: [instance('h1', 'web', '1.0.0', 'running'), instance('h2', 'api', '2.0.0', 'failed')],
        faults: [fault('f-old', 'web', 48 * hour), fault('f-new', 'web', hour), fault('f-api', 'api', 2 * hour)],
      },
    });
    expect(sent.status).toBe(204);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('shows what the consumer runs per environment and service, filtered', async () => {
    const all = await run(['fleet', '--consumer', 'acme']);
    expect(all.status, all.stderr).toBe(0);
    expect(all.stdout).toMatch(/^consumer acme: reported /);
    expect(all.stdout).toMatch(/prod \/ api: 1 instance\n[\s\S]*h2\s+2\.0\.0\s+failed/);
    expect(all.stdout).toMatch(/prod \/ web: 1 instance\n[\s\S]*h1\s+1\.0\.0\s+running/);
    const web = JSON.parse((await run(['fleet', '--consumer', 'acme', '--service', 'web', '--json'])).stdout);
    expect(web.instances.map((i: { instanceId: string }) => i.instanceId)).toEqual(['h1']);
    const mixed = await run(['fleet', '--consumer', 'acme', '--alerts']);
    expect(mixed.status).toBe(2);
    const unknown = await run(['fleet', '--consumer', 'nobody']);
    expect(unknown.status).not.toBe(0);
    expect(unknown.stderr).toContain('no consumer "nobody"');
  });

  it('lists the faults the consumer reported, newest first, by service and time', async () => {
    const all = JSON.parse((await run(['faults', 'list', '--consumer', 'acme', '--json'])).stdout);
    expect(all.faults.map((f: { id: string }) => f.id)).toEqual(['f-new', 'f-api', 'f-old']);
    const recent = JSON.parse(
      (await run(['faults', 'list', '--consumer', 'acme', '--service', 'web', '--since', '1d', '--json'])).stdout,
    );
    expect(recent.faults.map((f: { id: string }) => f.id)).toEqual(['f-new']);
    const table = await run(['faults', 'list', '--consumer', 'acme', '--limit', '1']);
    expect(table.stdout).toMatch(/f-new\s.*prod\s+h1\s+web\s+1\.0\.0\s+exit/);
    expect(table.stdout).not.toContain('f-api');
  });
});
