// End to end: a real server and a real `flotilla agent` process on loopback, updating small real services.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalJson } from '@flotilla/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { markedProcesses } from '../../agent/src/update/orphans.ts';
import { TokenStore } from '../../server/src/auth/tokens.ts';
import { makeArtifact } from '../../server/src/catalog/archive.test.helper.ts';
import { keyIdOf } from '../../server/src/catalog/signing.ts';
import { openDatabase } from '../../server/src/db/connection.ts';
import { startTestServer, type TestServer } from '../../server/test/support/server.ts';
import {
  type AgentProcess,
  api,
  eventually,
  freePort,
  instanceService,
  manifestFor,
  publish,
  publishAgent,
  served,
  serviceScript,
  setDesired,
  spawnAgent,
  watchAvailability,
} from './agent-e2e.test.helper.ts';

describe('flotilla agent against a real server', () => {
  let server: TestServer;
  let agentToken: string;
  let agent: AgentProcess;
  const ports = { web: 0, flaky: 0, hog: 0, broken: 0 };
  const restarted: TestServer[] = [];

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    ports.web = await freePort();
    ports.flaky = await freePort();
    ports.hog = await freePort();
    ports.broken = await freePort();
    const call = api(server);
    expect((await call('POST', '/api/v1/environments', { name: 'test' })).status).toBe(201);
    for (const name of ['web', 'flaky', 'hog', 'broken'])
      expect((await call('POST', '/api/v1/services', { name })).status).toBe(201);
    const db = openDatabase(server.database);
    agentToken = (
      await new TokenStore(db.db).create('host-1', 'agent', undefined, { kind: 'agent', environment: 'test' })
    ).token;
    await db.close();
    agent = spawnAgent(server, agentToken, undefined, [
      '--instance-id',
      'host-1',
      '--roles',
      'web=frontend',
      '--labels',
      'zone=a',
    ]);
  });

  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') console.error(agent?.output().split('\n').slice(-80).join('\n'));
  });

  afterAll(async () => {
    await agent?.stop();
    await server?.stop();
    // The first server's store outlives it when the test restarts the server on the same store.
    for (const old of restarted) await old.stop().catch(() => {});
  });

  const report = (service: string, instance = 'host-1') => instanceService(server, instance, service);
  /** The fleet view's reason for host-1 and `service` in the test environment. */
  const fleetReason = async (service: string) => {
    const res = await api(server)('GET', `/api/v1/fleet?environment=test&service=${service}`);
    const rows = ((res.json?.services ?? []) as { instances: { instanceId: string; reason: string | null }[] }[])[0];
    return rows?.instances.find((i) => i.instanceId === 'host-1')?.reason;
  };
  /** Stored log lines of `service` (and `version`) whose message contains `text`. */
  const logLines = async (service: string, text: string, version?: string) => {
    const only = version ? `&version=${encodeURIComponent(version)}` : '';
    const res = await api(server)('GET', `/api/v1/logs?service=${service}&q=${encodeURIComponent(text)}${only}`);
    return (res.json?.lines ?? []) as {
      message: string;
      version: string | null;
      stream: string;
      level: string;
      time: string;
    }[];
  };

  it('installs the first version, with %%version%% and %%role%% expanded', async () => {
    await publish(server, 'web', '1.0.0', ports.web, 'good');
    await setDesired(server, 'test', { web: '1.0.0' });
    await eventually('web 1.0.0 to serve', async () => ((await served(ports.web)) === '1.0.0' ? true : undefined));
    const state = await eventually('the report of web 1.0.0', async () => {
      const s = await report('web');
      return s?.version === '1.0.0' && s.state === 'running' ? s : undefined;
    });
    expect(state.updateError).toBeNull();
    expect(readFileSync(join(agent.dir, 'services/web/versions/1.0.0/installed.txt'), 'utf8')).toBe('1.0.0 frontend');
    // The signing key was pinned on first contact.
    expect(readFileSync(join(agent.dir, 'signing-key.pem'), 'utf8')).toContain('BEGIN PUBLIC KEY');
  });

  it('installs a library-only version (no process to run) and reports it running', async () => {
    const call = api(server);
    expect((await call('POST', '/api/v1/services', { name: 'lib' })).status).toBe(201);
    const file = await makeArtifact(
      { install: [{ command: process.execPath, args: ['-e', "require('fs').writeFileSync('ready', '%%version%%')"] }] },
      { 'data.txt': 'shared files' },
    );
    expect((await call('PUT', '/api/v1/services/lib/versions/1.0.0', readFileSync(file))).status).toBe(201);
    await setDesired(server, 'test', { web: '1.0.0', lib: '1.0.0' });
    const state = await eventually('lib 1.0.0 to be reported', async () => {
      const s = await report('lib');
      return s?.version === '1.0.0' && s.state === 'running' ? s : undefined;
    });
    expect(state.updateError).toBeNull();
    expect(readFileSync(join(agent.dir, 'services/lib/current/ready'), 'utf8')).toBe('1.0.0');
    await setDesired(server, 'test', {}, ['lib']);
  });

  it('updates to a good version; the service is unavailable only for the restart', async () => {
    await publish(server, 'web', '2.0.0', ports.web, 'good');
    const watch = watchAvailability(ports.web);
    const changedAt = Date.now();
    await setDesired(server, 'test', { web: '2.0.0' });
    await eventually('web 2.0.0 to serve', async () => ((await served(ports.web)) === '2.0.0' ? true : undefined));
    const servingAfterMs = Date.now() - changedAt;
    const gap = await watch.stop();
    await eventually('the report of web 2.0.0', async () =>
      (await report('web'))?.version === '2.0.0' ? true : undefined,
    );
    console.info(`desired change → 2.0.0 serving: ${servingAfterMs} ms; longest unavailability: ${gap} ms`);
    expect(gap).toBeLessThan(5000);
  });

  it('rolls back a version that crashes at start, and reports why, once, with its start-up error in the logs', async () => {
    await publish(server, 'web', '3.0.0', ports.web, 'crash');
    await setDesired(server, 'test', { web: '3.0.0' });
    const state = await eventually('the rollback of 3.0.0', async () => {
      const s = await report('web');
      return s?.updateError?.includes('3.0.0') ? s : undefined;
    });
    expect(state.version).toBe('2.0.0');
    const said = 'update to 3.0.0 failed: exited with code 3 during the startup window; rolled back to 2.0.0';
    expect(state.updateError).toBe(said);
    expect(await fleetReason('web')).toBe(said);
    expect(await served(ports.web)).toBe('2.0.0');
    // What the failed version wrote before it died reaches the log store, marked with its version.
    const [line] = await eventually('the start-up error of 3.0.0 in the log store', async () => {
      const lines = await logLines('web', 'fatal: no database for 3.0.0');
      return lines.length > 0 ? lines : undefined;
    });
    expect(line).toMatchObject({ version: '3.0.0', stream: 'stderr', level: 'error' });
    // The failed version's lines can be asked for by version; the version serving has none of them.
    const ofFailed = await logLines('web', 'fatal: no database', '3.0.0');
    expect(ofFailed.length).toBeGreaterThan(0);
    expect(ofFailed.every((l) => l.version === '3.0.0')).toBe(true);
    expect(await logLines('web', 'fatal: no database', '2.0.0')).toHaveLength(0);
  });

  it('says a failed first install failed, with its cause, and uploads its output', async () => {
    await publish(server, 'broken', '1.0.0', ports.broken, 'crash');
    await setDesired(server, 'test', { web: '2.0.0', broken: '1.0.0' });
    const state = await eventually('the failed install of broken', async () => {
      const s = await report('broken');
      return s?.updateError ? s : undefined;
    });
    const said = 'install of broken 1.0.0 failed: exited with code 3 during the startup window';
    expect(state).toMatchObject({ version: null, updateError: said });
    expect(await fleetReason('broken')).toBe(said);
    const [line] = await eventually('the start-up error of broken 1.0.0 in the log store', async () => {
      const lines = await logLines('broken', 'fatal: no database for 1.0.0');
      return lines.length > 0 ? lines : undefined;
    });
    expect(line).toMatchObject({ version: '1.0.0', stream: 'stderr' });
    await setDesired(server, 'test', {}, ['broken']);
  });

  it('rolls back a version that fails its health probe', async () => {
    await publish(server, 'web', '3.0.1', ports.web, 'unhealthy');
    const watch = watchAvailability(ports.web);
    await setDesired(server, 'test', { web: '3.0.1' });
    const state = await eventually('the rollback of 3.0.1', async () => {
      const s = await report('web');
      return s?.updateError?.includes('3.0.1') ? s : undefined;
    });
    await eventually('2.0.0 to serve again', async () => ((await served(ports.web)) === '2.0.0' ? true : undefined));
    const gap = await watch.stop();
    expect(state.version).toBe('2.0.0');
    expect(state.updateError).toMatch(
      /^update to 3\.0\.1 failed its health check \(GET http:\/\/127\.0\.0\.1:\d+\/healthz answered 500, not 200\); rolled back to 2\.0\.0$/,
    );
    // The failed update is also a fault report: its reason and the output of the failed version.
    const call = api(server);
    const failedUpdate = await eventually('the fault report of the failed update', async () => {
      const res = await call('GET', '/api/v1/faults?service=web');
      const list = (res.json?.faults ?? []) as { id: string; reason: string; version: string | null }[];
      return list.find((f) => f.reason === 'update-rolled-back' && f.version === '3.0.1');
    });
    const detail = await call('GET', `/api/v1/faults/${failedUpdate.id}`);
    expect(detail.json.state).toMatchObject({ from: '2.0.0', to: '3.0.1', rolledBackTo: '2.0.0' });
    expect((detail.json.logTail as string[]).join('\n')).toContain('listening on');
    // Two restarts (to 3.0.1, back to 2.0.0) and a failed probe window, but never a long outage.
    expect(gap).toBeLessThan(10_000);
  });

  it('refuses an artifact whose bytes were changed on the server', async () => {
    const { digest } = await publish(server, 'web', '4.0.0', ports.web, 'good');
    const hex = digest.replace(/^sha256:/, '');
    const blob = join(server.dir, 'artifacts', 'sha256', hex.slice(0, 2), hex);
    expect(existsSync(blob)).toBe(true);
    const bytes = readFileSync(blob);
    const at = bytes.length - 5;
    bytes.writeUInt8((bytes.readUInt8(at) ^ 0xff) & 0xff, at);
    writeFileSync(blob, bytes);
    await setDesired(server, 'test', { web: '4.0.0' });
    const state = await eventually('the refusal of 4.0.0', async () => {
      const s = await report('web');
      return s?.updateError?.includes('4.0.0') ? s : undefined;
    });
    expect(state.updateError).toMatch(/sha256|digest/i);
    expect(state.version).toBe('2.0.0');
    expect(existsSync(join(agent.dir, 'services/web/versions/4.0.0'))).toBe(false);
    expect(await served(ports.web)).toBe('2.0.0');
  });

  it('refuses a signed archive whose paths escape its directory (a catalog written behind the server)', async () => {
    // The server refuses such archives at publish; here one is signed with the server's own key and
    // put straight into its store, so only the agent's own extraction checks stand in the way.
    const manifest = manifestFor(ports.web, 'good');
    const file = await makeArtifact(manifest, { 'server.mjs': serviceScript }, ['../escaped.txt']);
    const bytes = readFileSync(file);
    const hex = createHash('sha256').update(bytes).digest('hex');
    mkdirSync(join(server.dir, 'artifacts', 'sha256', hex.slice(0, 2)), { recursive: true });
    writeFileSync(join(server.dir, 'artifacts', 'sha256', hex.slice(0, 2), hex), bytes);
    const key = createPrivateKey(readFileSync(join(server.dir, 'signing', 'ed25519.pem'), 'utf8'));
    const publishedAt = new Date().toISOString();
    const signedManifest = canonicalJson({
      service: 'web',
      version: '4.1.0',
      digest: `sha256:${hex}`,
      size: bytes.length,
      manifest,
      publishedAt,
    });
    const db = openDatabase(server.database);
    await db.db
      .insertInto('service_versions')
      .values({
        service: 'web',
        version: '4.1.0',
        digest: `sha256:${hex}`,
        size: bytes.length,
        manifest: JSON.stringify(manifest),
        signed_manifest: signedManifest,
        signature: sign(null, Buffer.from(signedManifest), key).toString('base64'),
        key_id: keyIdOf(createPublicKey(key)),
        notes: null,
        author: 'intruder',
        created_at: publishedAt,
      })
      .execute();
    await db.close();
    await setDesired(server, 'test', { web: '4.1.0' });
    const state = await eventually('the refusal of 4.1.0', async () => {
      const s = await report('web');
      return s?.updateError?.includes('4.1.0') ? s : undefined;
    });
    expect(state.updateError).toMatch(/escape|outside|\.\./i);
    expect(state.version).toBe('2.0.0');
    expect(existsSync(join(agent.dir, 'services/web/escaped.txt'))).toBe(false);
    expect(existsSync(join(agent.dir, 'services/web/versions/escaped.txt'))).toBe(false);
    expect(existsSync(join(agent.dir, 'services/web/versions/4.1.0'))).toBe(false);
    expect(await served(ports.web)).toBe('2.0.0');
  });

  it('an agent that trusts another key refuses every manifest and changes nothing', async () => {
    const foreign = generateKeyPairSync('ed25519').publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const other = spawnAgent(server, agentToken, undefined, ['--instance-id', 'host-2', '--signing-key', foreign]);
    try {
      const state = await eventually('host-2 to report the refusal', async () => {
        const s = await report('web', 'host-2');
        return s?.updateError ? s : undefined;
      });
      expect(state.updateError).toMatch(/refused: .*(signature|key)/i);
      expect(state.version).toBeNull();
      expect(existsSync(join(other.dir, 'services/web/versions'))).toBe(false);
    } finally {
      await other.stop();
    }
  });

  it('restarts a crash loop with growing delays and uploads a fault report with its files', async () => {
    await publish(server, 'flaky', '1.0.0', ports.flaky, 'flaky');
    const started = Date.now();
    await setDesired(server, 'test', { web: '2.0.0', flaky: '1.0.0' });
    const state = await eventually(
      'two crashes of flaky',
      async () => {
        const s = await report('flaky');
        return s && s.failureCount >= 2 ? s : undefined;
      },
      60_000,
    );
    // Each run lives 2.5 s; restarts wait 1 s then 2 s: a spinning loop would crash far more often.
    expect(Date.now() - started).toBeGreaterThan(5000);
    expect(state.lastExitCode).toBe(4);
    const call = api(server);
    const faults = await eventually('a fault report of flaky', async () => {
      const res = await call('GET', '/api/v1/faults?service=flaky');
      const list = (res.json?.faults ?? []) as { id: string; files: string[] }[];
      return list.length > 0 ? list : undefined;
    });
    const detail = await call('GET', `/api/v1/faults/${faults[0]?.id}`);
    expect(detail.status).toBe(200);
    expect((detail.json.files as string[]).some((f) => f.startsWith('core.'))).toBe(true);
    expect((detail.json.logTail as string[]).join('\n')).toContain('giving up');
    expect(detail.json.exitCode).toBe(4);
    expect(readdirSync(join(agent.dir, 'faults')).some((n) => n.endsWith('.tar.gz'))).toBe(true);
  });

  it('restarts a service whose memory exceeds maxMemoryMB', async () => {
    await publish(server, 'hog', '1.0.0', ports.hog, 'hog');
    await setDesired(server, 'test', { web: '2.0.0', flaky: '1.0.0', hog: '1.0.0' });
    const call = api(server);
    const fault = await eventually(
      'a memory fault of hog',
      async () => {
        const res = await call('GET', '/api/v1/faults?service=hog');
        const list = (res.json?.faults ?? []) as { reason: string }[];
        return list.find((f) => f.reason === 'memory');
      },
      60_000,
    );
    expect(fault.reason).toBe('memory');
    await setDesired(server, 'test', {}, ['flaky', 'hog']);
    await eventually('flaky and hog to be stopped', async () =>
      (await report('hog'))?.state === 'stopped' && (await report('flaky'))?.state === 'stopped' ? true : undefined,
    );
  });

  it('uploads logs that can be searched and followed', async () => {
    const call = api(server);
    const found = await eventually('the startup line of web in the log store', async () => {
      const res = await call('GET', '/api/v1/logs?service=web&q=listening&instance=host-1');
      const lines = (res.json?.lines ?? []) as { message: string; level: string; unit: string }[];
      return lines.find((l) => l.message.includes('as 2.0.0'));
    });
    expect(found.level).toBe('info');
    expect(found.unit).toBe('http');

    // A line without its own timestamp is stamped when the agent reads it: as it is written (the
    // safety poll, once a second, would put the median near 500 ms).
    await served(ports.web, '/stamp');
    const stamped = await eventually('the five stamped lines of web', async () => {
      const lines = await logLines('web', 'stamped 2.0.0 at');
      return lines.length >= 5 ? lines : undefined;
    });
    const lags = stamped.map((l) => Date.parse(l.time) - Number(l.message.split(' at ')[1])).sort((a, b) => a - b);
    expect(lags[0]).toBeGreaterThanOrEqual(0);
    expect(lags[2]).toBeLessThanOrEqual(250);

    const abort = new AbortController();
    const res = await fetch(`${server.url}/api/v1/logs?service=web&level=warn&follow=1`, {
      headers: { authorization: `Bearer ${(await import('../../server/test/support/server.ts')).adminToken}` },
      signal: abort.signal,
    });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body?.getReader();
    if (!reader) throw new Error('no body');
    const marker = `asked to log at 2.0.0`;
    await served(ports.web, '/log');
    let text = '';
    const decoder = new TextDecoder();
    const until = Date.now() + 15_000;
    // One read stays pending across the timeouts: a read abandoned at a timeout would swallow its chunk.
    let pending: ReturnType<typeof reader.read> | null = null;
    while (!text.includes(marker) && Date.now() < until) {
      pending ??= reader.read();
      const chunk = await Promise.race([pending, new Promise<null>((r) => setTimeout(() => r(null), 1000))]);
      if (!chunk) {
        await served(ports.web, '/log');
        continue;
      }
      pending = null;
      if (chunk.done) break;
      text += decoder.decode(chunk.value, { stream: true });
    }
    abort.abort();
    expect(text).toContain('event: line');
    expect(text).toContain(marker);
  });

  it('updates itself through the same transaction, and rolls back an agent that does not come up', async () => {
    const call = api(server);
    expect((await call('POST', '/api/v1/services', { name: 'flotilla-agent' })).status).toBe(201);
    const webPids = markedProcesses(join(agent.dir, 'services/web'));
    expect(webPids).toHaveLength(1);
    await publishAgent(server, '9.0.0', 'good');
    await setDesired(server, 'test', { web: '2.0.0', 'flotilla-agent': '9.0.0' });
    const updated = await eventually('the agent to run 9.0.0', async () => {
      const s = await report('flotilla-agent');
      return s?.version === '9.0.0' ? s : undefined;
    });
    expect(updated.updateError).toBeNull();
    // A heartbeat can report the new worker's version a moment before it has reached the server.
    const status = join(agent.dir, 'services/flotilla-agent/versions/9.0.0/status.json');
    await eventually('the new worker to say it is healthy', async () =>
      existsSync(status) && readFileSync(status, 'utf8').includes('"ok"') ? true : undefined,
    );
    await eventually('web to serve under the new agent', async () =>
      (await served(ports.web)) === '2.0.0' ? true : undefined,
    );
    // The new worker adopted the service instead of restarting it.
    expect(markedProcesses(join(agent.dir, 'services/web'))).toEqual(webPids);

    await publishAgent(server, '9.1.0', 'silent');
    await setDesired(server, 'test', { web: '2.0.0', 'flotilla-agent': '9.1.0' });
    const rolledBack = await eventually(
      'the rollback of agent 9.1.0',
      async () => {
        const s = await report('flotilla-agent');
        return s?.updateError?.includes('9.1.0') ? s : undefined;
      },
      90_000,
    );
    expect(rolledBack.version).toBe('9.0.0');
    expect(rolledBack.updateError).toMatch(
      /^update to 9\.1\.0 failed its health check \(no status file status\.json\); rolled back to 9\.0\.0$/,
    );
    await eventually('web to serve after the rollback', async () =>
      (await served(ports.web)) === '2.0.0' ? true : undefined,
    );
  }, 150_000);

  it('keeps services running while the server is down, and catches up when it is back', async () => {
    const first = server;
    const port = new URL(first.url).port;
    await first.close();
    await new Promise((r) => setTimeout(r, 3000));
    expect(await served(ports.web)).toBe('2.0.0');
    expect(agent.output()).toMatch(/cannot reach the server .*retrying in \d+ s/);
    server = await startTestServer('sqlite', { database: first.database, port }, { dir: first.dir });
    restarted.push(first);
    await publish(server, 'web', '2.1.0', ports.web, 'good');
    await setDesired(server, 'test', { web: '2.1.0' });
    await eventually('web 2.1.0 to serve after the outage', async () =>
      (await served(ports.web)) === '2.1.0' ? true : undefined,
    );
  }, 90_000);

  it('retries an update whose artifact the server cannot serve yet, without blaming the version', async () => {
    const { digest } = await publish(server, 'web', '2.2.0', ports.web, 'good');
    const hex = digest.replace(/^sha256:/, '');
    const blob = join(server.dir, 'artifacts', 'sha256', hex.slice(0, 2), hex);
    renameSync(blob, `${blob}.away`);
    await setDesired(server, 'test', { web: '2.2.0' });
    const waiting = await eventually('the agent to wait for the artifact', async () => {
      const s = await report('web');
      return s?.updateError?.includes('waits for the server') ? s : undefined;
    });
    expect(waiting.version).toBe('2.1.0');
    const failed = join(agent.dir, 'services/web/failed-versions.json');
    expect(existsSync(failed) ? readFileSync(failed, 'utf8') : '').not.toContain('2.2.0');
    renameSync(`${blob}.away`, blob);
    await eventually('web 2.2.0 to serve once the artifact is back', async () =>
      (await served(ports.web)) === '2.2.0' ? true : undefined,
    );
    const done = await eventually('a clean report of 2.2.0', async () => {
      const s = await report('web');
      return s?.version === '2.2.0' && s.state === 'running' ? s : undefined;
    });
    expect(done.updateError).toBeNull();
  }, 90_000);

  it('after kill -9 of the agent, its services keep running and the next agent adopts them', async () => {
    const web = join(agent.dir, 'services/web');
    const [pid] = markedProcesses(web);
    expect(pid).toBeGreaterThan(0);
    await agent.killAll();
    expect(await served(ports.web)).toBe('2.2.0');
    // Written while no agent runs: the next one reads on from where the last one had read.
    expect(await served(ports.web, '/log')).toBe('2.2.0');
    agent = spawnAgent(server, agentToken, agent.dir, ['--instance-id', 'host-1', '--roles', 'web=frontend']);
    await eventually('the new agent to report web', async () => {
      const s = await report('web');
      return s?.state === 'running' && agent.output().includes(`adopted pid ${pid}`) ? s : undefined;
    });
    expect(markedProcesses(web)).toEqual([pid]);
    expect((await report('web'))?.failureCount).toBe(0);
    // Its output is still captured and uploaded by the new agent.
    await served(ports.web, '/log');
    const call = api(server);
    await eventually('the lines logged during and after the outage of the agent', async () => {
      const res = await call('GET', `/api/v1/logs?service=web&q=${encodeURIComponent('asked to log at 2.2.0')}`);
      return ((res.json?.lines ?? []) as unknown[]).length >= 2 ? true : undefined;
    });
  }, 90_000);

  it('after kill -9 in the middle of an update, a new agent ends on a healthy version', async () => {
    await publish(server, 'web', '5.0.0', ports.web, 'good');
    await setDesired(server, 'test', { web: '5.0.0' });
    const journal = join(agent.dir, 'services/web/journal.log');
    await eventually('the update to 5.0.0 to reach start-new', async () =>
      existsSync(journal) && /"step":"start-new"/.test(readFileSync(journal, 'utf8').split('\n').slice(-3).join('\n'))
        ? true
        : undefined,
    );
    await agent.killAll();
    agent = spawnAgent(server, agentToken, agent.dir, ['--instance-id', 'host-1', '--roles', 'web=frontend']);
    await eventually('web 5.0.0 to serve after recovery', async () =>
      (await served(ports.web)) === '5.0.0' ? true : undefined,
    );
    const state = await eventually('the report of 5.0.0', async () => {
      const s = await report('web');
      return s?.version === '5.0.0' && s.state === 'running' ? s : undefined;
    });
    expect(state.version).toBe('5.0.0');
    const versions = readdirSync(join(agent.dir, 'services/web/versions'));
    expect(versions).toContain('5.0.0');
    expect(versions.length).toBeLessThanOrEqual(3);
  });
});
