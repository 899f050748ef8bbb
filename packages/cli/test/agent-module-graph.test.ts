// The agent runs on every host: a real `flotilla agent` (launcher and worker) installs a service
// while every module it loads is recorded, and none may be server, dashboard or database code.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenStore } from '../../server/src/auth/tokens.ts';
import { openDatabase } from '../../server/src/db/connection.ts';
import { startTestServer, type TestServer } from '../../server/test/support/server.ts';
import { makeTempDir } from '../../server/test/support/temp-dir.ts';
import {
  type AgentProcess,
  api,
  eventually,
  freePort,
  instanceService,
  publish,
  setDesired,
  spawnAgent,
} from './agent-e2e.test.helper.ts';

const hook = new URL('./support/record-modules.mjs', import.meta.url);

/** Modules that belong to the control plane, never to a host agent. */
const forbidden = [
  /\/packages\/server\//,
  /\/packages\/dashboard\//,
  /\/node_modules\/(fastify|@fastify\/[^/]+|kysely|pg|pino|typebox|react)\//,
];

describe('the agent module graph', () => {
  let server: TestServer;
  let agent: AgentProcess | undefined;
  const record = join(makeTempDir('flotilla-modules-'), 'modules.tsv');

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    const call = api(server);
    expect((await call('POST', '/api/v1/environments', { name: 'test' })).status).toBe(201);
    expect((await call('POST', '/api/v1/services', { name: 'web' })).status).toBe(201);
  });
  afterAll(async () => {
    await agent?.stop();
    await server?.stop();
  });

  it('loads no server, dashboard or database code in the launcher or the worker', async () => {
    const port = await freePort();
    await publish(server, 'web', '1.0.0', port, 'good');
    await setDesired(server, 'test', { web: '1.0.0' });
    const db = openDatabase(server.database);
    const token = (
      await new TokenStore(db.db).create('host-1', 'agent', undefined, { kind: 'agent', environment: 'test' })
    ).token;
    await db.close();
    // As a Node option of the launcher, which starts its worker with the same options.
    agent = spawnAgent(server, token, undefined, ['--instance-id', 'graph-1'], {}, [
      `--import=${hook.href}?record=${encodeURIComponent(record)}`,
    ]);
    await eventually('web 1.0.0 running', async () => {
      const s = await instanceService(server, 'graph-1', 'web');
      return s?.version === '1.0.0' && s.state === 'running' ? s : undefined;
    });
    expect(await agent.stop()).toBe(0);

    const byProcess = new Map<string, Set<string>>();
    for (const line of readFileSync(record, 'utf8').split('\n').filter(Boolean)) {
      const [pid = '', url = ''] = line.split('\t');
      byProcess.set(pid, (byProcess.get(pid) ?? new Set()).add(url));
    }
    const loaded = (pattern: RegExp) =>
      [...byProcess.values()].filter((urls) => [...urls].some((u) => pattern.test(u)));
    // The recording saw both processes, each running its own code, or the check below proves nothing.
    const workers = loaded(/\/packages\/agent\/src\/runtime\/agent\.ts$/);
    const launchers = loaded(/\/packages\/agent\/src\/runtime\/launcher\.ts$/);
    expect(workers).toHaveLength(1);
    expect(launchers).toHaveLength(1);
    expect([...(workers[0] as Set<string>)].some((u) => u.endsWith('/update/transaction.ts'))).toBe(true);

    const offending = [...byProcess.values()].flatMap((urls) =>
      [...urls].filter((u) => forbidden.some((f) => f.test(u))),
    );
    expect(offending).toEqual([]);
  }, 120_000);
});
