import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenStore } from '../src/auth/tokens.ts';
import { type Database, openDatabase } from '../src/db/connection.ts';
import { logFollowers } from '../src/logs/routes.ts';
import { agentCredentialFor } from './support/agent-credential.ts';
import { type ApiCallOptions, callApi } from './support/api.ts';
import { allStoreKinds, describeEachStore } from './support/databases.ts';
import { adminToken, startTestServer, type TestServer } from './support/server.ts';

interface SseEvent {
  event: string;
  data: string;
}

/** Reads server-sent events from a streaming response; comments come back as `event: ':'`. */
function sseReader(body: ReadableStream<Uint8Array>) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  return async function next(): Promise<SseEvent | null> {
    for (;;) {
      const end = buffer.indexOf('\n\n');
      if (end >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (frame.startsWith(':')) return { event: ':', data: frame.slice(1).trim() };
        const event = /^event: (.*)$/m.exec(frame)?.[1] ?? 'message';
        const data = /^data: (.*)$/m.exec(frame)?.[1] ?? '';
        return { event, data };
      }
      const { value, done } = await reader.read();
      if (done) return null;
      buffer += decoder.decode(value, { stream: true });
    }
  };
}

describeEachStore(allStoreKinds)('logs API on %s', (kind) => {
  let server: TestServer;
  let store: Database;
  let agentToken: string;
  let viewerToken: string;

  const call = (method: string, path: string, opts: ApiCallOptions = {}) => callApi(server.url, method, path, opts);
  const upload = (lines: unknown[], token = agentToken) =>
    call('POST', '/api/v1/agent/logs', { token, body: { instanceId: 'host-1', lines } });
  const logLine = (over: Record<string, unknown> = {}) => ({
    service: 'web',
    time: new Date().toISOString(),
    level: 'info',
    unit: 'http',
    stream: 'stdout',
    message: 'hello',
    ...over,
  });

  beforeAll(async () => {
    server = await startTestServer(kind);
    store = openDatabase(server.database);
    expect((await call('POST', '/api/v1/environments', { body: { name: 'prod' } })).status).toBe(201);
    const created = await call('POST', '/api/v1/tokens', {
      body: { kind: 'agent', name: 'agent-prod', environment: 'prod' },
    });
    expect(created.status).toBe(201);
    // The credential of the instance every upload here speaks for.
    agentToken = await agentCredentialFor(server.url, created.body.token, 'host-1');
    viewerToken = (await new TokenStore(store.db).create('viewer', 'viewer')).token;
  });
  afterAll(async () => {
    await store?.close();
    await server?.stop();
  });

  it('checks credentials, roles and the batch', async () => {
    expect((await upload([logLine()], '')).status).toBe(401);
    const viewerUpload = await upload([logLine()], viewerToken);
    expect(viewerUpload.status).toBe(403);
    expect(viewerUpload.body.error.message).toContain('agent');
    expect((await call('GET', '/api/v1/logs', { token: agentToken })).status).toBe(403);
    expect((await call('GET', '/api/v1/logs', { token: null })).status).toBe(401);
    expect((await upload([logLine({ level: 'loud' })])).status).toBe(400);
    expect((await upload([logLine({ time: 'yesterday' })])).status).toBe(400);
    const noInstance = await call('POST', '/api/v1/agent/logs', { token: agentToken, body: { lines: [] } });
    expect(noInstance.status).toBe(400);
    expect(noInstance.body.error.code).toBe('invalid');
    expect((await call('POST', '/api/v1/agent/logs', { token: agentToken, body: '{"instanceId":' })).status).toBe(400);
    expect((await call('GET', '/api/v1/logs?limit=5000', { token: viewerToken })).status).toBe(400);
    expect((await call('GET', '/api/v1/logs?cursor=zzz', { token: viewerToken })).status).toBe(400);
    const openapi = await call('GET', '/api/openapi.json', { token: null });
    expect(Object.keys(openapi.body.paths)).toEqual(expect.arrayContaining(['/api/v1/logs', '/api/v1/agent/logs']));
  });

  it('stores uploads under the token environment and searches them', async () => {
    const base = Math.floor(Date.now() / 1000) * 1000 - 3_600_000;
    const at = (s: number) => new Date(base + s * 1000).toISOString();
    const range = `from=${encodeURIComponent(at(0))}&to=${encodeURIComponent(at(10))}`;
    const accepted = await call('POST', '/api/v1/agent/logs', {
      token: agentToken,
      body: {
        instanceId: 'host-1',
        dropped: 3,
        lines: [
          logLine({ message: 'GET / 200', time: at(0) }),
          logLine({ message: 'disk 90% full', level: 'warn', time: at(1), pid: 7 }),
          logLine({ service: 'api', message: 'boom', level: 'error', time: at(2) }),
        ],
      },
    });
    expect({ status: accepted.status, body: accepted.body }).toEqual({ status: 200, body: { accepted: 3 } });
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toContain('flotilla_agent_log_lines_total{result="stored"} 3');
    expect(metrics).toContain('flotilla_agent_log_lines_total{result="dropped_by_agent"} 3');
    const all = await call('GET', `/api/v1/logs?${range}`, {
      token: viewerToken,
    });
    expect(all.status).toBe(200);
    expect(all.body.lines.map((l: { message: string }) => l.message)).toEqual(['boom', 'disk 90% full', 'GET / 200']);
    expect(all.body.lines[1]).toMatchObject({ environment: 'prod', instanceId: 'host-1', pid: 7, level: 'warn' });
    const warn = await call('GET', `/api/v1/logs?${range}&level=warn&service=web`, { token: viewerToken });
    expect(warn.body.lines.map((l: { message: string }) => l.message)).toEqual(['disk 90% full']);
    const q = await call('GET', `/api/v1/logs?q=${encodeURIComponent('90%')}&environment=prod`, { token: viewerToken });
    expect(q.body.lines.map((l: { message: string }) => l.message)).toEqual(['disk 90% full']);
    const page1 = await call('GET', `/api/v1/logs?${range}&limit=2`, { token: viewerToken });
    expect(page1.body.lines).toHaveLength(2);
    const page2 = await call(
      'GET',
      `/api/v1/logs?${range}&limit=2&cursor=${encodeURIComponent(page1.body.nextCursor)}`,
      { token: viewerToken },
    );
    expect(page2.body).toMatchObject({ lines: [{ message: 'GET / 200' }], nextCursor: null });
  });

  it('streams new matching lines to followers', async () => {
    const left = new AbortController();
    const timeout = setTimeout(() => left.abort(), 10_000);
    try {
      const res = await fetch(`${server.url}/api/v1/logs?follow=1&service=web&level=warn`, {
        headers: { authorization: `Bearer ${viewerToken}` },
        signal: left.signal,
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/event-stream');
      expect(res.headers.get('x-accel-buffering')).toBe('no');
      const next = sseReader(res.body as ReadableStream<Uint8Array>);
      expect(await next()).toEqual({ event: ':', data: 'connected' });
      // The non-matching lines are stored first; only the matching one may arrive.
      expect((await upload([logLine({ message: 'quiet' }), logLine({ service: 'api', level: 'error' })])).status).toBe(
        200,
      );
      expect((await upload([logLine({ message: 'loud', level: 'error' })])).status).toBe(200);
      const event = await next();
      expect(event?.event).toBe('line');
      expect(JSON.parse(event?.data ?? '{}')).toMatchObject({
        service: 'web',
        level: 'error',
        message: 'loud',
        environment: 'prod',
      });
      expect(logFollowers(server.app.server)).toBe(1);
    } finally {
      left.abort();
      clearTimeout(timeout);
    }
    for (let i = 0; i < 100 && logFollowers(server.app.server) > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(logFollowers(server.app.server)).toBe(0);
  });

  it('refuses a follow with a bad filter before streaming', async () => {
    const res = await call('GET', '/api/v1/logs?follow=1&from=2030-01-02T00:00:00Z&to=2030-01-01T00:00:00Z', {
      token: viewerToken,
    });
    expect(res.status).toBe(400);
  });
});

describe('logs API shutdown', () => {
  it('ends follow streams so that closing the server is not held', async () => {
    const server = await startTestServer('sqlite');
    const res = await fetch(`${server.url}/api/v1/logs?follow=1`, {
      headers: { authorization: `Bearer ${adminToken}` },
    });
    const next = sseReader(res.body as ReadableStream<Uint8Array>);
    expect(await next()).toEqual({ event: ':', data: 'connected' });
    const started = Date.now();
    await server.stop();
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await next()).toBeNull();
  });
});
