import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Database, openDatabase } from '../../server/src/db/connection.ts';
import { seedCatalog } from '../../server/src/desired/testing.test.helper.ts';
import { agentCredentialFor } from '../../server/test/support/agent-credential.ts';
import { adminToken, startTestServer, type TestServer } from '../../server/test/support/server.ts';
import { describeCounts, registerFleetCommands } from './commands/fleet.ts';

describe('fleet helpers', () => {
  it('describes counts, ok first, leaving out zeros', () => {
    expect(describeCounts({ failed: 1, ok: 3, behind: 0 })).toBe('3 ok, 1 failed');
    expect(describeCounts({ ok: 0 })).toBe('no instances');
  });
});

// `fleet` is not in main.ts yet, so the command runs in process on its own program.
describe('flotilla fleet', () => {
  let server: TestServer;
  let store: Database;

  const run = async (args: string[]) => {
    const program = new Command('flotilla').exitOverride();
    registerFleetCommands(program);
    let out = '';
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out += chunk.toString();
      return true;
    });
    try {
      await program.parseAsync(['fleet', '--server', server.url, '--token', adminToken, ...args], { from: 'user' });
    } finally {
      spy.mockRestore();
    }
    return out;
  };

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    store = openDatabase(server.database);
    await seedCatalog(store.db, { web: ['1.0', '2.0'] });
    const call = async (path: string, body: unknown, token = adminToken, method = 'POST') => {
      const res = await fetch(`${server.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const text = await res.text();
      return text ? JSON.parse(text) : undefined;
    };
    await call('/api/v1/environments', { name: 'prod' });
    await call('/api/v1/environments/prod/desired', { set: { web: '2.0' } }, adminToken, 'PATCH');
    const agent = (await call('/api/v1/tokens', { kind: 'agent', name: 'a', environment: 'prod' })).token;
    await call(
      '/api/v1/agent/state',
      { instanceId: 'h-ok', services: [{ service: 'web', version: '2.0' }] },
      await agentCredentialFor(server.url, agent, 'h-ok'),
    );
    await call(
      '/api/v1/agent/state',
      { instanceId: 'h-old', services: [{ service: 'web', version: '1.0', state: 'running' }] },
      await agentCredentialFor(server.url, agent, 'h-old'),
    );
  });
  afterAll(async () => {
    await store?.close();
    await server?.stop();
  });

  it('prints a table per service, and JSON', async () => {
    const table = await run([]);
    expect(table).toContain('prod / web: desired 2.0: 1 ok, 1 behind');
    expect(table).toMatch(/INSTANCE\s+VERDICT\s+VERSION\s+DESIRED\s+STATE\s+REASON/);
    expect(table).toMatch(/h-old\s+behind\s+1\.0\s+2\.0\s+running\s+runs 1\.0 while 2\.0 is desired/);
    expect(table.indexOf('h-old')).toBeLessThan(table.indexOf('h-ok'));

    const alerts = await run(['--alerts']);
    expect(alerts).toContain('h-old');
    expect(alerts).not.toContain('h-ok');

    const json = JSON.parse(await run(['--environment', 'prod', '--service', 'web', '--json']));
    expect(json.services[0].counts).toMatchObject({ ok: 1, behind: 1 });
    expect(await run(['--service', 'nothing'])).toBe('(no desired services)\n');
    await expect(run(['--environment', 'nope'])).rejects.toMatchObject({
      message: 'no environment "nope"',
      detail: 'GET /api/v1/fleet?environment=nope → 404',
    });
  });
});
