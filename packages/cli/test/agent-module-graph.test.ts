// The agent runs on every host: a real `flotilla agent` installs a service while every module it
// loads is recorded, and none may be server, dashboard or database code. It is one Node process.
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { markedProcesses } from '../../agent/src/update/orphans.ts';
import { TokenStore } from '../../server/src/auth/tokens.ts';
import { openDatabase } from '../../server/src/db/connection.ts';
import { startTestServer, type TestServer } from '../../server/test/support/server.ts';
import { makeTempDir } from '../../server/test/support/temp-dir.ts';
import { agentV8Options } from '../src/commands/agent.ts';
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

/** The program a process runs, e.g. `sh` or `node`. */
const commandName = (pid: number) => basename(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '');
const parentOf = (pid: number) => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[1]);

const hook = new URL('./support/record-modules.mjs', import.meta.url);

/** Modules that belong to the control plane, never to a host agent. */
const forbidden = [
  /\/packages\/server\//,
  /\/packages\/dashboard\//,
  /\/node_modules\/(fastify|@fastify\/[^/]+|kysely|pg|pino|typebox|react)\//,
  // The Kubernetes client is for the cluster's drift agent only (an optional peer dependency).
  /\/node_modules\/@kubernetes\//,
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

  it('runs as one Node process under a shell launcher, and loads no server, dashboard or database code', async () => {
    const port = await freePort();
    await publish(server, 'web', '1.0.0', port, 'good');
    await setDesired(server, 'test', { web: '1.0.0' });
    const db = openDatabase(server.database);
    const token = (
      await new TokenStore(db.db).create('host-1', 'agent', undefined, { kind: 'agent', environment: 'test' })
    ).token;
    await db.close();
    // As a Node option of `flotilla agent`, which the launcher starts again with the same options.
    agent = spawnAgent(server, token, undefined, ['--instance-id', 'graph-1'], {}, [
      `--import=${hook.href}?record=${encodeURIComponent(record)}`,
    ]);
    await eventually('web 1.0.0 running', async () => {
      const s = await instanceService(server, 'graph-1', 'web');
      return s?.version === '1.0.0' && s.state === 'running' ? s : undefined;
    });
    // The process spawned became the shell launcher; the agent is its one Node child, marked as ours.
    expect(commandName(agent.proc.pid ?? 0)).toBe('sh');
    const ours = markedProcesses(join(agent.dir, 'services/flotilla-agent'));
    expect(ours.map(commandName)).toEqual(['node']);
    expect(ours.map(parentOf)).toEqual([agent.proc.pid]);
    // With the V8 options that keep it small (from the sources, those that leave WebAssembly on).
    const argv = readFileSync(`/proc/${ours[0]}/cmdline`, 'utf8').split('\0');
    expect(argv).toEqual(expect.arrayContaining(agentV8Options('main.ts')));
    expect(agentV8Options('main.js')).toContain('--lite-mode');
    expect(await agent.stop()).toBe(0);

    const byProcess = new Map<string, Set<string>>();
    for (const line of readFileSync(record, 'utf8').split('\n').filter(Boolean)) {
      const [pid = '', url = ''] = line.split('\t');
      byProcess.set(pid, (byProcess.get(pid) ?? new Set()).add(url));
    }
    const loaded = (pattern: RegExp) =>
      [...byProcess.values()].filter((urls) => [...urls].some((u) => pattern.test(u)));
    // The recording saw the agent run its update code, or the check below proves nothing.
    const agents = loaded(/\/packages\/agent\/src\/runtime\/agent-process\.ts$/);
    expect(agents).toHaveLength(1);
    expect([...(agents[0] as Set<string>)].some((u) => u.endsWith('/update/transaction.ts'))).toBe(true);

    const offending = [...byProcess.values()].flatMap((urls) =>
      [...urls].filter((u) => forbidden.some((f) => f.test(u))),
    );
    expect(offending).toEqual([]);
    // With no host trackers in its environment, the tracker evaluation and its RE2 engine stay unloaded.
    expect(loaded(/\/(drift\/host-trackers\.ts|node_modules\/re2js\/)/)).toEqual([]);
  }, 120_000);
});
