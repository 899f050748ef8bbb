import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TokenStore } from '../src/auth/tokens.ts';
import { type Database, openDatabase } from '../src/db/connection.ts';
import { faultMeta, makeFaultArchive } from '../src/faults/archive.test.helper.ts';
import { logFollowers, logFollowPendingBytes } from '../src/logs/routes.ts';
import { agentCredentialFor } from './support/agent-credential.ts';
import { type ApiCallOptions, callApi } from './support/api.ts';
import { allStoreKinds, describeEachStore } from './support/databases.ts';
import { startTestServer, type TestServer } from './support/server.ts';

// Quotas and follow caps small enough to reach in a test; the defaults are in docs/logs.md and docs/faults.md.
describeEachStore(allStoreKinds)('agent upload quotas and follow caps on %s', (kind) => {
  let server: TestServer;
  let store: Database;
  let agentToken: string;
  let viewer: string;
  const credentials = new Map<string, string>();

  const call = (method: string, path: string, opts: ApiCallOptions = {}) => callApi(server.url, method, path, opts);
  const credential = async (instanceId: string) => {
    let found = credentials.get(instanceId);
    if (!found) {
      found = await agentCredentialFor(server.url, agentToken, instanceId);
      credentials.set(instanceId, found);
    }
    return found;
  };
  const uploadLines = async (instanceId: string, count: number, message = 'hello') =>
    call('POST', '/api/v1/agent/logs', {
      token: await credential(instanceId),
      body: {
        instanceId,
        lines: Array.from({ length: count }, () => ({
          service: 'web',
          time: new Date().toISOString(),
          level: 'info',
          unit: '',
          stream: 'stdout',
          message,
        })),
      },
    });
  const uploadFault = async (instanceId: string) =>
    call('POST', '/api/v1/agent/faults', {
      token: await credential(instanceId),
      raw: readFileSync(await makeFaultArchive({ meta: faultMeta({ instanceId }) })),
    });
  const metric = async (name: string) => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    return Number(new RegExp(`^${name.replace(/[{}"]/g, '\\$&')} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  };

  beforeAll(async () => {
    server = await startTestServer(kind, {
      logQuotaLines: '100',
      logQuotaBytes: '20000',
      faultQuota: '2',
      logFollowMax: '2',
    });
    store = openDatabase(server.database);
    viewer = (await new TokenStore(store.db).create('viewer', 'viewer')).token;
    expect((await call('POST', '/api/v1/environments', { body: { name: 'prod' } })).status).toBe(201);
    const minted = await call('POST', '/api/v1/tokens', {
      body: { kind: 'agent', name: 'agent', environment: 'prod' },
    });
    expect(minted.status).toBe(201);
    agentToken = minted.body.token;
  });
  afterAll(async () => {
    await store?.close();
    await server?.stop();
  });

  it('No quota on log and fault uploads (50 MB of lines in 2.6 s from one token)', async () => {
    expect((await uploadLines('host-1', 100)).status).toBe(200);
    const refused = await uploadLines('host-1', 1);
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('rate_limited');
    expect(refused.body.error.message).toContain('host-1');
    // 100 lines a minute: one line is back after 0.6 s, so the wait is a second.
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // Bytes count too: 20,000 bytes a minute.
    expect((await uploadLines('host-2', 2, 'x'.repeat(9000))).status).toBe(200);
    const big = await uploadLines('host-2', 1, 'x'.repeat(9000));
    expect(big.status).toBe(429);
    expect(Number(big.headers.get('retry-after'))).toBeGreaterThanOrEqual(20);
    // Another instance has its own quota; the refused batches stored nothing.
    expect((await uploadLines('host-3', 50)).status).toBe(200);
    const stored = await call('GET', '/api/v1/logs?limit=1000', { token: viewer });
    expect(stored.body.lines).toHaveLength(152);
    expect(await metric('flotilla_agent_uploads_refused_total{kind="logs"}')).toBe(2);

    expect((await uploadFault('host-1')).status).toBe(201);
    expect((await uploadFault('host-1')).status).toBe(201);
    const faultRefused = await uploadFault('host-1');
    expect(faultRefused.status).toBe(429);
    // 2 an hour: the next one fits in half an hour.
    expect(Number(faultRefused.headers.get('retry-after'))).toBeGreaterThan(1700);
    expect((await uploadFault('host-2')).status).toBe(201);
    const faults = await call('GET', '/api/v1/faults', { token: viewer });
    expect(faults.body.faults).toHaveLength(3);
    const dir = join(server.dir, 'faults');
    expect(readdirSync(dir).filter((n) => n.endsWith('.tar.gz'))).toHaveLength(3);
    expect(existsSync(join(dir, 'tmp')) ? readdirSync(join(dir, 'tmp')) : []).toEqual([]);
    expect(await metric('flotilla_agent_uploads_refused_total{kind="faults"}')).toBe(1);
  });

  it('gives the N+1th log-follow stream of a user 429', async () => {
    const streams = new AbortController();
    try {
      const open = () =>
        fetch(`${server.url}/api/v1/logs?follow=1`, {
          headers: { authorization: `Bearer ${viewer}` },
          signal: streams.signal,
        });
      expect((await open()).status).toBe(200);
      expect((await open()).status).toBe(200);
      const third = await open();
      expect(third.status).toBe(429);
      expect(third.headers.get('retry-after')).toBe('5');
      expect(((await third.json()) as { error: { message: string } }).error.message).toContain(
        'at most 2 log-follow streams',
      );
      // Another user is not held back by this one.
      expect((await call('GET', '/api/v1/logs?follow=1', { token: null })).status).toBe(401);
      const admin = new AbortController();
      const adminStream = await fetch(`${server.url}/api/v1/logs?follow=1`, {
        headers: { authorization: `Bearer ${(await new TokenStore(store.db).create('viewer-2', 'viewer')).token}` },
        signal: admin.signal,
      });
      expect(adminStream.status).toBe(200);
      admin.abort();
    } finally {
      streams.abort();
    }
    // Closed streams free their places.
    for (let i = 0; i < 100 && logFollowers(server.app.server) > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(logFollowers(server.app.server)).toBe(0);
  });
});

// Quotas off, so one instance can outrun a reader that never reads; one store is enough for the hub.
describeEachStore(['sqlite'] as const)('a log-follow stream that never reads on %s', (kind) => {
  let server: TestServer;
  let store: Database;
  let agentToken: string;

  beforeAll(async () => {
    server = await startTestServer(kind, { logQuotaLines: '0', logQuotaBytes: '0' });
    store = openDatabase(server.database);
    expect((await callApi(server.url, 'POST', '/api/v1/environments', { body: { name: 'prod' } })).status).toBe(201);
    const minted = await callApi(server.url, 'POST', '/api/v1/tokens', {
      body: { kind: 'agent', name: 'agent', environment: 'prod' },
    });
    agentToken = minted.body.token;
  });
  afterAll(async () => {
    await store?.close();
    await server?.stop();
  });

  it('A viewer can open unlimited log-follow streams that never read; the server buffers up to 1,000 lines each', async () => {
    const viewer = (await new TokenStore(store.db).create('viewer', 'viewer')).token;
    const { hostname, port } = new URL(server.url);
    const socket = connect(Number(port), hostname);
    let received = '';
    let closed = false;
    socket.on('close', () => {
      closed = true;
    });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.on('data', (chunk: Buffer) => {
          received += chunk.toString('latin1');
          if (received.includes(': connected')) resolve();
        });
        socket.write(
          `GET /api/v1/logs?follow=1 HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${viewer}\r\nConnection: close\r\n\r\n`,
        );
      });
      expect(received).toMatch(/^HTTP\/1\.1 200/);
      // From here on the client reads nothing; the server keeps getting lines for it.
      socket.pause();
      socket.removeAllListeners('data');
      const token = await agentCredentialFor(server.url, agentToken, 'host-1');
      const message = 'x'.repeat(60_000);
      const lines = Array.from({ length: 64 }, () => ({
        service: 'web',
        time: new Date().toISOString(),
        level: 'info',
        unit: '',
        stream: 'stdout',
        message,
      }));
      let held = 0;
      for (let batch = 0; batch < 60 && logFollowers(server.app.server) > 0; batch++) {
        const accepted = await callApi(server.url, 'POST', '/api/v1/agent/logs', {
          token,
          body: { instanceId: 'host-1', lines },
        });
        expect(accepted.status).toBe(200);
        held = Math.max(held, logFollowPendingBytes(server.app.server));
      }
      // The stream was closed once it held its bound (1 MiB), not 1,000 lines (60 MB here), and what it
      // held is freed.
      expect(logFollowers(server.app.server)).toBe(0);
      expect(held).toBeLessThanOrEqual(1024 * 1024);
      expect(logFollowPendingBytes(server.app.server)).toBe(0);
      // A reader that comes back late gets what was sent, then the reason, then the end of the stream.
      let tail = '';
      socket.on('data', (chunk: Buffer) => {
        tail = (tail + chunk.toString('latin1')).slice(-4096);
      });
      socket.resume();
      for (let i = 0; i < 200 && !closed; i++) await new Promise((r) => setTimeout(r, 50));
      expect(closed).toBe(true);
      expect(tail).toContain('event: closed\ndata: {"reason":"reader too slow"}\n\n');
    } finally {
      socket.destroy();
    }
  });
});
