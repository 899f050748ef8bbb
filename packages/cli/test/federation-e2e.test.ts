// End to end: a provider server and a consumer server, each a real `flotilla server` process on
// loopback, and a real agent on the consumer that installs a version the provider published.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TokenStore } from '../../server/src/auth/tokens.ts';
import { makeArtifact } from '../../server/src/catalog/archive.test.helper.ts';
import { openDatabase } from '../../server/src/db/connection.ts';
import { callApi } from '../../server/test/support/api.ts';
import { adminToken, type TestServer } from '../../server/test/support/server.ts';
import { type SpawnedServer, spawnServer } from '../../server/test/support/spawn-server.ts';
import { makeTempDir } from '../../server/test/support/temp-dir.ts';
import { runCli } from '../src/run-cli.test.helper.ts';
import {
  type AgentProcess,
  eventually,
  freePort,
  manifestFor,
  served,
  serviceScript,
  spawnAgent,
} from './agent-e2e.test.helper.ts';

describe('federation between two real servers', () => {
  let provider: SpawnedServer;
  let consumer: SpawnedServer;
  let agent: AgentProcess | undefined;
  let token: string;
  let port: number;
  const consumerDir = makeTempDir('flotilla-consumer-');
  const env = { FLOTILLA_ADMIN_TOKEN: adminToken };
  const cli = (server: SpawnedServer, args: string[]) =>
    runCli([...args, '--server', server.url, '--token', adminToken]);

  beforeAll(async () => {
    port = await freePort();
    provider = await spawnServer(['--data-dir', makeTempDir('flotilla-provider-'), '--geodb', 'off'], env);
    await callApi(provider.url, 'POST', '/api/v1/services', { body: { name: 'web' } });
    await callApi(provider.url, 'PUT', '/api/v1/profiles/partner', { body: { services: ['web'] } });
    const created = await cli(provider, ['consumer', 'create', 'acme', '--profile', 'partner', '--json']);
    expect(created.status, created.stderr).toBe(0);
    token = JSON.parse(created.stdout).token;
    consumer = await spawnServer(
      [
        '--data-dir',
        consumerDir,
        '--geodb',
        'off',
        '--provider-url',
        provider.url,
        '--provider-environment',
        'test',
        '--provider-report-interval',
        '1s',
      ],
      { ...env, FLOTILLA_PROVIDER_TOKEN: token },
    );
    await callApi(consumer.url, 'POST', '/api/v1/environments', { body: { name: 'test' } });
    const db = openDatabase(join(consumerDir, 'flotilla.db'));
    const agentToken = (
      await new TokenStore(db.db).create('host-1', 'agent', undefined, { kind: 'agent', environment: 'test' })
    ).token;
    await db.close();
    agent = spawnAgent({ url: consumer.url } as TestServer, agentToken, undefined, ['--instance-id', 'host-1']);
  }, 120_000);

  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') {
      console.error(consumer?.output().split('\n').slice(-40).join('\n'));
      console.error(agent?.output().split('\n').slice(-40).join('\n'));
    }
  });

  afterAll(async () => {
    await agent?.stop();
    for (const server of [consumer, provider]) {
      if (server && server.child.exitCode === null) {
        server.child.kill('SIGTERM');
        await server.exited;
      }
    }
  });

  it('a version published at the provider runs on the consumer agent, and its state reaches the provider', async () => {
    const file = await makeArtifact(manifestFor(port, 'good'), { 'server.mjs': serviceScript });
    const published = Date.now();
    const res = await callApi(provider.url, 'PUT', '/api/v1/services/web/versions/1.0.0', { raw: readFileSync(file) });
    expect(res.status).toBe(201);
    await eventually('the consumer has web 1.0.0', async () => {
      const v = await callApi(consumer.url, 'GET', '/api/v1/services/web/versions/1.0.0');
      return v.status === 200 ? true : undefined;
    });
    expect(Date.now() - published).toBeLessThan(10_000);
    expect(
      await eventually(
        'the agent serves 1.0.0',
        async () => ((await served(port)) === '1.0.0' ? true : undefined),
        60_000,
      ),
    ).toBe(true);
    const fleet = await eventually('the provider sees host-1 running web 1.0.0', async () => {
      const f = (await callApi(provider.url, 'GET', '/api/v1/consumers/acme/fleet')).body;
      return f.instances.some(
        (i: { instanceId: string; version: string }) => i.instanceId === 'host-1' && i.version === '1.0.0',
      )
        ? f
        : undefined;
    });
    expect(fleet.consumer).toBe('acme');
    const shown = await cli(provider, ['consumer', 'fleet', 'acme']);
    expect(shown.stdout).toContain('host-1');
  }, 120_000);

  it('a revoked token stops the consumer with state revoked', async () => {
    expect((await cli(provider, ['consumer', 'revoke', 'acme'])).status).toBe(0);
    await eventually(
      'state revoked',
      async () => {
        const s = await cli(consumer, ['federation', 'status']);
        return s.stdout.includes('state:       revoked') ? s : undefined;
      },
      60_000,
    );
    const s = await cli(consumer, ['federation', 'status', '--json']);
    expect(JSON.parse(s.stdout).lastError).toContain('revoked');
  }, 90_000);
});
