// `kill -9` of a real agent right after it journals each step of an update: the restarted agent must
// finish or roll back, then converge, leaving one healthy process on the desired version.
import { existsSync, readlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { markedProcesses } from '../../agent/src/update/orphans.ts';
import { updateSteps } from '../../agent/src/update/undo.ts';
import { TokenStore } from '../../server/src/auth/tokens.ts';
import { openDatabase } from '../../server/src/db/connection.ts';
import { startTestServer, type TestServer } from '../../server/test/support/server.ts';
import {
  type AgentProcess,
  api,
  eventually,
  freePort,
  instanceService,
  publish,
  served,
  setDesired,
  spawnAgent,
} from './agent-e2e.test.helper.ts';

describe('kill -9 of the agent at every step of an update', () => {
  let server: TestServer;
  let token: string;
  let port: number;
  let dir: string;
  let agent: AgentProcess | null = null;

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    port = await freePort();
    const call = api(server);
    await call('POST', '/api/v1/environments', { name: 'test' });
    await call('POST', '/api/v1/services', { name: 'web' });
    const db = openDatabase(server.database);
    token = (await new TokenStore(db.db).create('host', 'agent', undefined, { kind: 'agent', environment: 'test' }))
      .token;
    await db.close();
    await publish(server, 'web', '1.0.0', port, 'good');
    await setDesired(server, 'test', { web: '1.0.0' });
    agent = spawnAgent(server, token, undefined, ['--instance-id', 'crash-host']);
    dir = agent.dir;
    await eventually('web 1.0.0 to serve', async () => ((await served(port)) === '1.0.0' ? true : undefined));
    await agent.stop();
    agent = null;
  }, 120_000);

  afterAll(async () => {
    await agent?.stop();
    await server?.stop();
  });

  const serviceDir = () => join(dir, 'services', 'web');

  it.each(updateSteps.map((step, i) => [step, i] as const))(
    'killed right after journaling %s',
    async (step, i) => {
      const version = `1.1.${i}`;
      await publish(server, 'web', version, port, 'good');
      await setDesired(server, 'test', { web: version });
      // The agent kills itself with SIGKILL right after journaling `step`; launcher.sh starts it again.
      agent = spawnAgent(server, token, dir, ['--instance-id', 'crash-host'], {
        FLOTILLA_AGENT_FAILPOINT: `${step}:begin`,
      });
      await eventually(`the worker to be killed at ${step}`, async () =>
        existsSync(join(dir, `failpoint-fired-${step}-begin`)) ? true : undefined,
      );
      await eventually(`${version} to serve after recovery`, async () =>
        (await served(port)) === version ? true : undefined,
      );
      const state = await eventually('the report', async () => {
        const s = await instanceService(server, 'crash-host', 'web');
        return s?.version === version && s.state === 'running' ? s : undefined;
      });
      expect(state.updateError).toBeNull();
      // Recovery ended the dead agent's processes before starting its own: no crash was seen.
      expect(state.failureCount).toBe(0);
      expect(basename(readlinkSync(join(serviceDir(), 'current')))).toBe(version);
      expect(markedProcesses(serviceDir())).toHaveLength(1);
      expect(existsSync(join(serviceDir(), 'versions', version))).toBe(true);
      await agent.stop();
      agent = null;
      // A stopped agent stops its services: nothing of this service is left running.
      expect(markedProcesses(serviceDir())).toHaveLength(0);
    },
    90_000,
  );
});
