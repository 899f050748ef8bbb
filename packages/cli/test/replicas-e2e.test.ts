// Three `flotilla server` processes on one PostgreSQL database and one S3-compatible store, behind
// haproxy on loopback: the features' flows through the balancer, a replica killed with SIGKILL under
// load losing nothing it acknowledged, and the leader's jobs handed over when it dies.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeArtifact } from '../../server/src/catalog/archive.test.helper.ts';
import { faultMeta, makeFaultArchive } from '../../server/src/faults/archive.test.helper.ts';
import { type ApiCallOptions, callApi } from '../../server/test/support/api.ts';
import { createTestDatabase, postgresUrl, type TestDatabase } from '../../server/test/support/databases.ts';
import { adminToken } from '../../server/test/support/server.ts';
import {
  type AgentProcess,
  eventually,
  freePort,
  manifestFor,
  served,
  serviceScript,
  spawnAgent,
} from './agent-e2e.test.helper.ts';
import {
  type Balancer,
  type ObjectStore,
  type Replica,
  startBalancer,
  startObjectStore,
  startReplica,
} from './replicas.test.helper.ts';

const haveHaproxy = (() => {
  try {
    execFileSync('haproxy', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** The value of `flotilla_cluster_leader` on a replica, or null when it does not answer. */
async function leads(replica: Replica): Promise<boolean | null> {
  try {
    const text = await (await fetch(`${replica.url}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
    return /^flotilla_cluster_leader 1$/m.test(text);
  } catch {
    return null;
  }
}

describe.skipIf(!postgresUrl || !haveHaproxy)('three replicas behind haproxy, on PostgreSQL and S3', () => {
  let database: TestDatabase;
  let objects: ObjectStore;
  const replicas: Replica[] = [];
  let balancer: Balancer;
  let agent: AgentProcess | undefined;
  let agentToken = '';
  let servicePort = 0;
  const call = (base: string, method: string, path: string, opts?: ApiCallOptions) => callApi(base, method, path, opts);
  const viaBalancer = (method: string, path: string, opts?: ApiCallOptions) => call(balancer.url, method, path, opts);

  const publish = async (base: string, version: string, service = 'web') => {
    const file = await makeArtifact(manifestFor(servicePort, 'good'), { 'server.mjs': serviceScript });
    const bytes = readFileSync(file);
    const res = await call(base, 'PUT', `/api/v1/services/${service}/versions/${version}`, { raw: bytes });
    return { res, digest: createHash('sha256').update(bytes).digest('hex'), bytes };
  };

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    objects = await startObjectStore();
    const first = await startReplica('r1', { database: database.location, blobStore: objects.url });
    replicas.push(first);
    for (const name of ['r2', 'r3'])
      replicas.push(
        await startReplica(name, { database: database.location, blobStore: objects.url, keysFrom: first.dataDir }),
      );
    balancer = await startBalancer(replicas);
    servicePort = await freePort();
    expect((await viaBalancer('POST', '/api/v1/environments', { body: { name: 'test' } })).status).toBe(201);
    expect((await viaBalancer('POST', '/api/v1/services', { body: { name: 'web' } })).status).toBe(201);
    // Every version uploaded under load is kept, so each can be checked afterwards.
    expect((await viaBalancer('POST', '/api/v1/services', { body: { name: 'bulk' } })).status).toBe(201);
    const kept = await viaBalancer('PATCH', '/api/v1/services/bulk', { body: { maxHistorySize: 10_000 } });
    expect(kept.status).toBe(200);
    const token = await viaBalancer('POST', '/api/v1/tokens', {
      body: { kind: 'agent', name: 'hosts', environment: 'test' },
    });
    expect(token.status).toBe(201);
    agentToken = token.body.token;
  }, 180_000);

  afterAll(async () => {
    await agent?.stop();
    await balancer?.stop();
    for (const replica of replicas) await replica.stop();
    await objects?.close();
    await database?.drop();
  }, 120_000);

  it('refuses a replica whose signing key differs from the others’', async () => {
    await expect(startReplica('stranger', { database: database.location, blobStore: objects.url })).rejects.toThrow(
      /this server's signing key .* differs from the one the servers on this database have used/,
    );
  }, 90_000);

  it('publishes through the balancer into S3, and every replica serves the same bytes', async () => {
    const { res, digest, bytes } = await publish(balancer.url, '1.0.0');
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    for (const replica of replicas) {
      const download = await call(replica.url, 'GET', '/api/v1/services/web/versions/1.0.0/artifact');
      expect(download.status).toBe(200);
      expect(download.bytes.equals(bytes)).toBe(true);
    }
    expect(res.body.digest).toContain(digest);
  });

  it('a real agent behind the balancer installs, and is woken by a change made through any replica', async () => {
    expect((await publish(balancer.url, '1.1.0')).res.status).toBe(201);
    const set = (base: string, version: string) =>
      call(base, 'PATCH', '/api/v1/environments/test/desired', { body: { set: { web: version } } });
    expect((await set(balancer.url, '1.0.0')).status).toBe(200);
    agent = spawnAgent({ url: balancer.url } as never, agentToken);
    await eventually('1.0.0 served', async () => ((await served(servicePort)) === '1.0.0' ? true : undefined), 60_000);
    // Each replica in turn takes the change; the agent's poll is parked on whichever haproxy chose.
    for (const [i, version] of ['1.1.0', '1.0.0', '1.1.0'].entries()) {
      const changed = Date.now();
      expect((await set((replicas[i] as Replica).url, version)).status).toBe(200);
      await eventually(
        `${version} served`,
        async () => ((await served(servicePort)) === version ? true : undefined),
        30_000,
      );
      expect(Date.now() - changed).toBeLessThan(15_000);
    }
  }, 180_000);

  it('streams to a follower on every replica the lines uploaded through the balancer', async () => {
    const credential = (
      await call(balancer.url, 'POST', '/api/v1/agent/enroll', {
        token: agentToken,
        body: { instanceId: 'log-writer' },
      })
    ).body.credential as string;
    const streams = replicas.map((replica) => {
      const left = new AbortController();
      const seen: string[] = [];
      const done = (async () => {
        const res = await fetch(`${replica.url}/api/v1/logs?follow=1&service=api`, {
          headers: { authorization: `Bearer ${adminToken}` },
          signal: left.signal,
        });
        const reader = (res.body as ReadableStream<Uint8Array>).getReader();
        let buffer = '';
        for (;;) {
          const { value, done: ended } = await reader.read();
          if (ended) return;
          buffer += new TextDecoder().decode(value);
          for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
            const data = /^event: line\ndata: (.*)$/m.exec(buffer.slice(0, end))?.[1];
            buffer = buffer.slice(end + 2);
            if (data) seen.push(JSON.parse(data).message);
          }
        }
      })().catch(() => {});
      return { seen, stop: () => left.abort(), done };
    });
    await new Promise((r) => setTimeout(r, 500));
    const sent: string[] = [];
    for (let batch = 0; batch < 6; batch++) {
      const lines = [0, 1, 2].map((i) => ({
        service: 'api',
        time: new Date().toISOString(),
        level: 'info',
        unit: 'http',
        stream: 'stdout',
        message: `line ${batch}.${i}`,
      }));
      const res = await viaBalancer('POST', '/api/v1/agent/logs', {
        token: credential,
        body: { instanceId: 'log-writer', lines },
      });
      expect(res.status).toBe(200);
      sent.push(...lines.map((l) => l.message));
    }
    try {
      for (const [i, stream] of streams.entries())
        await eventually(
          `all lines on ${replicas[i]?.name}`,
          async () => (stream.seen.length >= sent.length ? true : undefined),
          15_000,
        );
      // In order and once on every replica, whichever replica each batch went through.
      for (const stream of streams) expect(stream.seen).toEqual(sent);
    } finally {
      for (const stream of streams) stream.stop();
      await Promise.all(streams.map((s) => s.done));
    }
  });

  it('takes a fault archive through the balancer, and every replica serves it', async () => {
    const credential = (
      await viaBalancer('POST', '/api/v1/agent/enroll', { token: agentToken, body: { instanceId: 'host-1' } })
    ).body.credential as string;
    const bytes = readFileSync(await makeFaultArchive({ meta: faultMeta({ environment: 'test' }) }));
    const uploaded = await viaBalancer('POST', '/api/v1/agent/faults', { token: credential, raw: bytes });
    expect(uploaded.status, JSON.stringify(uploaded.body)).toBe(201);
    for (const replica of replicas) {
      const archive = await call(replica.url, 'GET', `/api/v1/faults/${uploaded.body.id}/archive`);
      expect(archive.status).toBe(200);
      expect(archive.bytes.equals(bytes)).toBe(true);
    }
  });

  it('counts failed logins made through the balancer on every replica', async () => {
    const password = 'correct horse battery staple';
    expect(
      (await viaBalancer('POST', '/api/v1/users', { body: { name: 'alice', role: 'viewer', password } })).status,
    ).toBe(201);
    // haproxy appends the peer to X-Forwarded-For; the replicas trust it, so the address is the client's.
    const login = (base: string, pass: string, name = 'alice') =>
      fetch(`${base}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': '198.51.100.7' },
        body: JSON.stringify({ name, password: pass }),
      });
    for (let i = 0; i < 10; i++) expect((await login(balancer.url, 'wrong', `nobody-${i}`)).status).toBe(401);
    for (const replica of replicas) expect((await login(replica.url, password)).status, replica.name).toBe(429);
  });

  it('loses nothing acknowledged when a replica is killed with SIGKILL under load, and its agent goes on', async () => {
    const credential = (
      await viaBalancer('POST', '/api/v1/agent/enroll', { token: agentToken, body: { instanceId: 'load-writer' } })
    ).body.credential as string;
    const acked = {
      checkins: [] as string[],
      revisions: [] as string[],
      uploads: [] as string[],
      lines: [] as string[],
    };
    const victim = replicas[1] as Replica;
    const end = Date.now() + 8000;
    let n = 0;
    const worker = async (kind: keyof typeof acked) => {
      while (Date.now() < end) {
        const id = `${kind}-${n++}`;
        try {
          if (kind === 'checkins') {
            const res = await fetch(`${balancer.url}/v1/checkupgrade`, {
              method: 'POST',
              body: JSON.stringify({ appVersion: id, extraTagInfo: {}, extraFieldInfo: {} }),
            });
            // Acknowledged: answered and stored (an unstored one says so in a header).
            if (res.status === 200 && !res.headers.get('flotilla-unstored')) acked.checkins.push(id);
          } else if (kind === 'revisions') {
            const res = await viaBalancer('PATCH', '/api/v1/environments/test/desired', {
              body: { set: { web: n % 2 ? '1.0.0' : '1.1.0' }, comment: id },
            });
            if (res.status === 200) acked.revisions.push(id);
          } else if (kind === 'uploads') {
            const version = `3.0.${n}`;
            if ((await publish(balancer.url, version, 'bulk')).res.status === 201) acked.uploads.push(version);
          } else {
            const lines = [
              {
                service: 'load',
                time: new Date().toISOString(),
                level: 'info',
                unit: 'u',
                stream: 'stdout',
                message: id,
              },
            ];
            const res = await viaBalancer('POST', '/api/v1/agent/logs', {
              token: credential,
              body: { instanceId: 'load-writer', lines },
            });
            if (res.status === 200) acked.lines.push(id);
          }
        } catch {
          // A connection cut by the kill: not acknowledged, so nothing is owed.
        }
      }
    };
    const killed = new Promise<void>((resolve) => setTimeout(() => void victim.kill9().then(resolve), 2500));
    await Promise.all([
      worker('checkins'),
      worker('checkins'),
      worker('revisions'),
      worker('uploads'),
      worker('lines'),
      worker('lines'),
      killed,
    ]);
    expect(victim.proc.signalCode).toBe('SIGKILL');
    for (const [kind, ids] of Object.entries(acked)) expect(ids.length, kind).toBeGreaterThan(3);
    console.log(
      `acknowledged around the kill: ${Object.entries(acked)
        .map(([k, ids]) => `${ids.length} ${k}`)
        .join(', ')}`,
    );

    const usage = await viaBalancer('GET', '/api/v1/apps/default/usage?groupBy=appVersion');
    const counted = new Set((usage.body.summary as Array<{ key: string }>).map((s) => s.key));
    expect(acked.checkins.filter((id) => !counted.has(id))).toEqual([]);
    const history = await viaBalancer('GET', '/api/v1/environments/test/desired/history?limit=500');
    const comments = new Set((history.body.revisions as Array<{ comment: string | null }>).map((r) => r.comment));
    expect(acked.revisions.filter((id) => !comments.has(id))).toEqual([]);
    for (const version of acked.uploads) {
      const download = await viaBalancer('GET', `/api/v1/services/bulk/versions/${version}/artifact`);
      expect(download.status, version).toBe(200);
    }
    const stored = new Set<string>();
    for (let cursor: string | null = ''; cursor !== null; ) {
      const page = await viaBalancer('GET', `/api/v1/logs?service=load&limit=1000${cursor ? `&cursor=${cursor}` : ''}`);
      for (const line of page.body.lines as Array<{ message: string }>) stored.add(line.message);
      cursor = page.body.nextCursor;
    }
    expect(acked.lines.filter((id) => !stored.has(id))).toEqual([]);

    // The agent, whichever replica it was on, follows a change made after the kill.
    const now = (await viaBalancer('GET', '/api/v1/environments/test/desired')).body.versions.web as string;
    const next = now === '1.0.0' ? '1.1.0' : '1.0.0';
    expect(
      (await viaBalancer('PATCH', '/api/v1/environments/test/desired', { body: { set: { web: next } } })).status,
    ).toBe(200);
    await eventually(
      `${next} served after the kill`,
      async () => ((await served(servicePort)) === next ? true : undefined),
      60_000,
    );
  }, 120_000);

  it('hands the leader’s jobs to a surviving replica when the leader is killed', async () => {
    const alive = replicas.filter((r) => r.proc.exitCode === null && r.proc.signalCode === null);
    const leaders = async () => (await Promise.all(alive.map(leads))).filter((l) => l === true).length;
    await eventually('exactly one leader', async () => ((await leaders()) === 1 ? true : undefined), 20_000);
    const states = await Promise.all(alive.map(leads));
    const leader = alive[states.indexOf(true)] as Replica;
    const rest = alive.filter((r) => r !== leader);
    await leader.kill9();
    const started = Date.now();
    await eventually(
      'a surviving replica to lead',
      async () => ((await Promise.all(rest.map(leads))).filter((l) => l === true).length === 1 ? true : undefined),
      20_000,
    );
    const tookMs = Date.now() - started;
    console.log(`leader killed with SIGKILL: another replica led after ${tookMs} ms`);
    expect(tookMs).toBeLessThan(10_000);
    // Through the balancer, the survivors still answer.
    expect((await viaBalancer('GET', '/api/v1/environments/test/desired')).status).toBe(200);
  }, 60_000);
});
