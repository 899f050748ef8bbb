// Drift reports read by check-in threads and handed to the main thread in batches answer exactly as
// the same routes on the main thread's Fastify app do: same statuses, bodies and stored rows.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { opvicAgentPayload } from '../../protocol/test/fixtures/opvic-agent-payload.ts';
import { TokenStore } from '../src/auth/tokens.ts';
import { openDatabase } from '../src/db/connection.ts';
import { agentCredentialFor } from './support/agent-credential.ts';
import { apiOf } from './support/api.ts';
import { startTestServer, type TestServer } from './support/server.ts';

interface Side {
  server: TestServer;
  agent: string;
  viewer: string;
  instance: string;
}

/** One request, written once, sent to both servers with that server's credentials. */
interface Probe {
  name: string;
  path: string;
  token: (side: Side) => string | null;
  body?: unknown;
  /** Sent as application/gzip. */
  raw?: Buffer;
}

const batch = {
  agentId: 'cl-1',
  tags: { region: 'eu' },
  complete: true,
  subjects: [{ subject: 'app', namespace: 'n', versions: [{ runningVersion: '1.2.3', resourceCount: 1 }] }],
};
const opvic = { ...opvicAgentPayload(), agentId: 'cl-2' };

const probes: Probe[] = [
  { name: 'an Opvic report', path: '/api/v1alpha1/agents', token: (s) => s.agent, body: opvic },
  { name: 'with a slash and a query', path: '/api/v1alpha1/agents/?x=1', token: (s) => s.agent, body: opvic },
  { name: 'a batch report', path: '/api/v1/drift/reports', token: (s) => s.agent, body: batch },
  { name: 'the same again', path: '/api/v1/drift/reports', token: (s) => s.agent, body: batch },
  { name: 'invalid JSON', path: '/api/v1alpha1/agents', token: (s) => s.agent, body: '{"agentId":' },
  { name: 'an empty body', path: '/api/v1/drift/reports', token: (s) => s.agent, body: '' },
  { name: 'no agentId', path: '/api/v1/drift/reports', token: (s) => s.agent, body: { subjects: [] } },
  {
    name: 'a wrong type deep down',
    path: '/api/v1alpha1/agents',
    token: (s) => s.agent,
    body: { ...opvic, version: { ...opvic.version, versions: [{ runningVersion: 7 }] } },
  },
  { name: 'an unknown token', path: '/api/v1alpha1/agents', token: () => 'flt_unknown', body: opvic },
  { name: 'a viewer token', path: '/api/v1alpha1/agents', token: (s) => s.viewer, body: opvic },
  { name: 'no token', path: '/api/v1/drift/reports', token: () => null, body: batch },
  {
    name: 'an instance reporting for another place',
    path: '/api/v1/drift/reports',
    token: (s) => s.instance,
    body: { ...batch, agentId: 'elsewhere' },
  },
  {
    name: "an agent token writing an enrolled host's place",
    path: '/api/v1/drift/reports',
    token: (s) => s.agent,
    body: { ...batch, agentId: 'host-9' },
  },
  {
    name: 'its own place, by instance credential',
    path: '/api/v1/drift/reports',
    token: (s) => s.instance,
    body: { ...batch, agentId: 'host-9' },
  },
  {
    name: 'a body of another type (passed on)',
    path: '/api/v1/drift/reports',
    token: (s) => s.agent,
    raw: Buffer.from(JSON.stringify(batch)),
  },
];

describe('drift reports through check-in threads', () => {
  const sides: Side[] = [];

  beforeAll(async () => {
    for (const threads of ['0', '2']) {
      const server = await startTestServer('sqlite', { checkinThreads: threads });
      const { ok } = apiOf(() => server.url);
      await ok('POST', '/api/v1/environments', { name: 'prod' }, 201);
      const agent = (await ok('POST', '/api/v1/tokens', { kind: 'agent', name: 'k8s', environment: 'prod' }, 201))
        .token as string;
      const store = openDatabase(server.database);
      const viewer = (await new TokenStore(store.db).create('viewer', 'viewer')).token;
      await store.close();
      const instance = await agentCredentialFor(server.url, agent, 'host-9');
      sides.push({ server, agent, viewer, instance });
    }
  }, 60_000);
  afterAll(async () => {
    for (const side of sides) await side.server.stop();
  });

  it('answers every report as the main thread does', async () => {
    for (const probe of probes) {
      const answers = [];
      for (const side of sides) {
        const { call } = apiOf(() => side.server.url);
        const res = await call('POST', probe.path, {
          token: probe.token(side),
          body: probe.body,
          ...(probe.raw ? { raw: probe.raw } : {}),
        });
        answers.push({ status: res.status, type: res.headers.get('content-type'), body: res.body });
      }
      expect(answers[1], probe.name).toEqual(answers[0]);
    }
    const [main, threaded] = sides as [Side, Side];
    for (const side of sides) {
      const { ok } = apiOf(() => side.server.url);
      const items = (await ok('GET', '/api/v1/drift?environment=prod')).items as Array<Record<string, unknown>>;
      expect(items.map((i) => `${i.place}/${i.subject}`)).toEqual(['cl-1/app', 'cl-2/coredns', 'host-9/app']);
    }
    // The threaded server read the reports itself (those with a bearer token and a JSON body).
    const counted = async (side: Side) =>
      (await side.server.metrics.threadRouteRequests.get()).values.reduce((sum, v) => sum + v.value, 0);
    expect(await counted(main)).toBe(0);
    expect(await counted(threaded)).toBe(probes.length - 2);
  });

  it('refuses a body over the limit sent in chunks with 413, and keeps serving', async () => {
    const threaded = sides[1] as Side;
    const big = JSON.stringify({ ...batch, tags: { pad: 'x'.repeat(5 * 1024 * 1024) } });
    // A stream has no Content-Length, so the thread reads it and stops at the limit.
    const body = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(big));
        controller.close();
      },
    });
    const res = await fetch(`${threaded.server.url}/api/v1/drift/reports`, {
      method: 'POST',
      headers: { authorization: `Bearer ${threaded.agent}`, 'content-type': 'application/json' },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('payload_too_large');
    const { call } = apiOf(() => threaded.server.url);
    expect((await call('POST', '/api/v1/drift/reports', { token: threaded.agent, body: batch })).status).toBe(202);
  });
});
