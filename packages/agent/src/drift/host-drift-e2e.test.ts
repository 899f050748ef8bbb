// A real server and a real agent in this process: the agent reports the services it runs, then runs a
// host tracker applied on the server (woken by the apply, not by its slow interval) and reports it.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeArtifact } from '../../../server/src/catalog/archive.test.helper.ts';
import { callApi } from '../../../server/test/support/api.ts';
import { startTestServer, type TestServer } from '../../../server/test/support/server.ts';
import { makeTempDir } from '../../../server/test/support/temp-dir.ts';
import { type RunningAgent, startAgent } from '../runtime/agent.ts';
import { resolveAgentConfig } from '../runtime/config.ts';

interface Item {
  subject: string;
  versions: { runningVersion: string; resourceKind?: string }[];
  error: string | null;
}

describe('host drift, server and agent together', () => {
  let server: TestServer;
  let agent: RunningAgent;
  const dir = makeTempDir('flotilla-host-drift-');
  const versionFile = join(dir, 'VERSION');

  const ok = async (method: string, path: string, body?: unknown, status = 200) => {
    const res = await callApi(server.url, method, path, { body });
    expect(res.status, JSON.stringify(res.body)).toBe(status);
    return res.body;
  };
  const reported = async (want: (items: Item[]) => boolean, timeoutMs = 20_000): Promise<Item[]> => {
    const until = Date.now() + timeoutMs;
    let items: Item[] = [];
    while (Date.now() < until) {
      items = (await ok('GET', '/api/v1/drift?environment=production&place=host-e2e')).items;
      if (want(items)) return items;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`not reported in time; last: ${JSON.stringify(items)}`);
  };

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    await ok('POST', '/api/v1/services', { name: 'web' }, 201);
    const file = await makeArtifact({}, { 'version.txt': '1.0.0' });
    const put = await callApi(server.url, 'PUT', '/api/v1/services/web/versions/1.0.0', { raw: readFileSync(file) });
    expect(put.status, JSON.stringify(put.body)).toBe(201);
    await ok('POST', '/api/v1/environments', { name: 'production' }, 201);
    await ok('PATCH', '/api/v1/environments/production/desired', { set: { web: '1.0.0' } });
    const minted = await ok('POST', '/api/v1/tokens', { kind: 'agent', name: 'hosts', environment: 'production' }, 201);
    const config = resolveAgentConfig(
      { server: server.url, token: minted.token, dir: join(dir, 'agent'), instanceId: 'host-e2e', wait: '60' },
      {},
    );
    // A slow interval: a new tracker must arrive through the poke of the desired long poll.
    agent = await startAgent(config, { drift: { intervalMs: 600_000 } });
    await agent.firstSync;
  }, 60_000);

  afterAll(async () => {
    await agent?.stop();
    await server?.stop();
  });

  it('reports the services Flotilla runs, then a tracker applied later', async () => {
    const first = await reported((items) => items.some((i) => i.subject === 'web'));
    expect(first.find((i) => i.subject === 'web')?.versions).toEqual([
      expect.objectContaining({ runningVersion: '1.0.0', resourceKind: 'FlotillaService' }),
    ]);

    writeFileSync(versionFile, 'app v4.2.0\n');
    const started = Date.now();
    await ok('PUT', '/api/v1/drift/trackers?environment=production', {
      trackers: [
        {
          kind: 'VersionTracker',
          metadata: { name: 'app' },
          spec: {
            name: 'app',
            resources: { strategy: 'File', path: versionFile },
            localVersion: { extraction: { regex: { pattern: 'v([0-9.]+)' } } },
          },
        },
        {
          kind: 'VersionTracker',
          metadata: { name: 'nginx' },
          spec: { name: 'nginx', resources: { strategy: 'Command', command: ['nginx', '-v'] } },
        },
      ],
    });
    const items = await reported((list) => list.some((i) => i.subject === 'app'));
    // Well before the 10-minute interval: the apply woke the agent.
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(items.find((i) => i.subject === 'app')?.versions).toEqual([
      expect.objectContaining({ runningVersion: '4.2.0', resourceKind: 'File' }),
    ]);
    expect(items.find((i) => i.subject === 'nginx')?.error).toMatch(/--drift-commands/);
    expect(items.map((i) => i.subject).sort()).toEqual(['app', 'nginx', 'web']);
  }, 60_000);
});
