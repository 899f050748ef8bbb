import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenStore } from '../src/auth/tokens.ts';
import { busApplicationName } from '../src/cluster/bus.ts';
import { leaderApplicationName } from '../src/cluster/leader.ts';
import { type Database, openDatabase } from '../src/db/connection.ts';
import { longPollWaiters } from '../src/desired/routes.ts';
import { seedCatalog } from '../src/desired/testing.test.helper.ts';
import { logFollowers } from '../src/logs/routes.ts';
import { agentCredentialFor } from './support/agent-credential.ts';
import { type ApiCallOptions, callApi } from './support/api.ts';
import { postgresUrl } from './support/databases.ts';
import { dataDirWithKeysOf, startTestServer, type TestServer } from './support/server.ts';

const password = 'correct horse battery staple';

const until = async (what: () => boolean | Promise<boolean>, ms: number, label: string) => {
  const end = Date.now() + ms;
  while (!(await what())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${label}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

/** Reads `event: line` frames of a follow stream, by message. */
function lineReader(body: ReadableStream<Uint8Array>) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const messages: string[] = [];
  let buffer = '';
  const pump = (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = /^event: line\ndata: (.*)$/m.exec(frame)?.[1];
        if (data) messages.push(JSON.parse(data).message);
      }
    }
  })();
  return { messages, stop: () => reader.cancel().then(() => pump) };
}

/** Cuts the PostgreSQL sessions of this database that carry `applicationName`; returns how many. */
async function terminate(location: string, applicationName: string, onlyLockHolder = false): Promise<number> {
  const admin = new pg.Client({ connectionString: location });
  await admin.connect();
  try {
    const lockHolder = onlyLockHolder
      ? `and pid in (select pid from pg_locks where locktype = 'advisory' and granted)`
      : '';
    const cut = await admin.query(
      `select pg_terminate_backend(pid) from pg_stat_activity
       where datname = current_database() and application_name = $1 ${lockHolder}`,
      [applicationName],
    );
    return cut.rows.length;
  } finally {
    await admin.end();
  }
}

async function isLeader(server: TestServer): Promise<boolean> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const value = /^flotilla_cluster_leader (\d)$/m.exec(text)?.[1];
  if (value === undefined) throw new Error('no flotilla_cluster_leader in /metrics');
  return value === '1';
}

// With check-in threads, long polls are parked in the threads and wait on the main thread's notifier.
describe.skipIf(!postgresUrl).each([0, 2])(
  'two replicas on one PostgreSQL database, %i check-in threads',
  (threads) => {
    let a: TestServer;
    let b: TestServer;
    let store: Database;
    let developer: string;
    let viewer: string;
    let agentToken: string;

    const call = (server: TestServer, method: string, path: string, opts: ApiCallOptions = {}) =>
      callApi(server.url, method, path, opts);

    /** Parks a desired-list poll on `server` and waits until it is parked. */
    const parkPoll = async (server: TestServer, instance: string) => {
      const agent = { token: await agentCredentialFor(server.url, agentToken, instance) };
      const first = await call(server, 'GET', '/api/v1/agent/desired', agent);
      expect(first.status).toBe(200);
      const before = longPollWaiters(server.app.server);
      const polling = call(server, 'GET', '/api/v1/agent/desired?wait=60s', {
        ...agent,
        headers: { 'if-none-match': first.headers.get('etag') as string },
      });
      await until(() => longPollWaiters(server.app.server) > before, 5000, 'the poll to park');
      return { polling, revision: first.body.revision as number };
    };

    const setWeb = async (server: TestServer, version: string) => {
      const res = await call(server, 'PATCH', '/api/v1/environments/test/desired', {
        token: developer,
        body: { set: { web: version } },
      });
      expect(res.status).toBe(200);
      return res.body.revision as number;
    };

    const login = async (server: TestServer, name: string, address: string, pass = 'wrong password') => {
      const res = await fetch(`${server.url}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': address },
        body: JSON.stringify({ name, password: pass }),
      });
      return { status: res.status, body: (await res.json()) as { error: { message: string } } };
    };

    const follow = async (server: TestServer) => {
      const before = logFollowers(server.app.server);
      const res = await fetch(`${server.url}/api/v1/logs?follow=1&environment=test`, {
        headers: { authorization: `Bearer ${viewer}` },
      });
      expect(res.status).toBe(200);
      await until(() => logFollowers(server.app.server) > before, 5000, 'the follower to register');
      return lineReader(res.body as ReadableStream<Uint8Array>);
    };

    const upload = async (server: TestServer, instance: string, messages: string[]) => {
      const token = await agentCredentialFor(server.url, agentToken, instance);
      const lines = messages.map((message) => ({
        service: 'web',
        time: new Date().toISOString(),
        level: 'info',
        unit: 'http',
        stream: 'stdout',
        message,
      }));
      const res = await call(server, 'POST', '/api/v1/agent/logs', { token, body: { instanceId: instance, lines } });
      expect(res.status).toBe(200);
    };

    beforeAll(async () => {
      const flags = { trustedProxies: '127.0.0.1/32', checkinThreads: String(threads) };
      a = await startTestServer('postgres', flags);
      b = await startTestServer('postgres', { ...flags, database: a.database }, { dir: dataDirWithKeysOf(a.dir) });
      store = openDatabase(a.database);
      await seedCatalog(store.db, { web: ['1.0', '1.1', '2.0', '2.1', '3.0'] });
      const tokens = new TokenStore(store.db);
      developer = (await tokens.create('dev', 'developer')).token;
      viewer = (await tokens.create('viewer', 'viewer')).token;
      agentToken = (await tokens.create('agent-test', 'agent', undefined, { kind: 'agent', environment: 'test' }))
        .token;
      expect((await call(a, 'POST', '/api/v1/environments', { body: { name: 'test' } })).status).toBe(201);
      await setWeb(a, '1.0');
      const user = await call(a, 'POST', '/api/v1/users', { body: { name: 'alice', role: 'viewer', password } });
      expect(user.status).toBe(201);
    });
    afterAll(async () => {
      await store?.close();
      await b?.stop();
      await a?.stop();
    });

    it('wakes a long poll parked on B within a second of a change through A', async () => {
      const { polling, revision } = await parkPoll(b, 'host-1');
      await new Promise((r) => setTimeout(r, 100));
      const changedAt = Date.now();
      const next = await setWeb(a, '1.1');
      const woken = await polling;
      expect(Date.now() - changedAt).toBeLessThan(1000);
      expect(woken.status).toBe(200);
      expect(woken.body.revision).toBe(next);
      expect(next).toBeGreaterThan(revision);
    });

    it('streams lines uploaded through A to a follower on B, in order and once', async () => {
      const reader = await follow(b);
      try {
        await upload(a, 'host-2', ['a-1', 'a-2']);
        await upload(a, 'host-2', ['a-3']);
        await upload(a, 'host-3', ['a-4', 'a-5']);
        await until(() => reader.messages.length >= 5, 5000, 'the lines on B');
        await new Promise((r) => setTimeout(r, 300));
        expect(reader.messages).toEqual(['a-1', 'a-2', 'a-3', 'a-4', 'a-5']);
        // B's own uploads reach its follower at once, and A's follower sees them too.
        const onA = await follow(a);
        try {
          await upload(b, 'host-4', ['b-1']);
          await until(() => onA.messages.includes('b-1') && reader.messages.includes('b-1'), 5000, 'b-1 on both');
          expect(onA.messages).toEqual(['b-1']);
        } finally {
          await onA.stop();
        }
      } finally {
        await reader.stop();
      }
    });

    it('refuses on B at once a token revoked through A, though B had just found it', async () => {
      const tokens = new TokenStore(store.db);
      const { id, token } = await tokens.create('short-lived', 'viewer');
      expect((await call(b, 'GET', '/api/v1/environments', { token })).status).toBe(200);
      expect((await call(a, 'DELETE', `/api/v1/tokens/${id}`)).status).toBe(200);
      // B keeps credentials it found for 5 s; A's notice drops them well before.
      await until(
        async () => (await call(b, 'GET', '/api/v1/environments', { token })).status === 401,
        1500,
        'B to refuse',
      );
    });

    it('counts login failures made through A on B', async () => {
      // The per-address budget is 10 failures whatever the names; spend it on A only.
      for (let i = 0; i < 10; i++) {
        expect((await login(a, `nobody-${i}`, '198.51.100.7')).status).toBe(401);
      }
      const onB = await login(b, 'alice', '198.51.100.7', password);
      expect(onB.status).toBe(429);
      expect(onB.body.error.message).toMatch(/^too many failed logins from this address; retry in \d+ s$/);
      // Another address is not held back on B.
      expect((await login(b, 'alice', '198.51.100.8', password)).status).toBe(200);
    });

    it('still wakes polls and streams lines after the notification sessions are cut', async () => {
      const reader = await follow(b);
      try {
        const { polling } = await parkPoll(b, 'host-5');
        expect(await terminate(a.database, busApplicationName)).toBe(2);
        // Published while B's listener is gone (or reconnecting): B reads what it missed.
        const next = await setWeb(a, '2.0');
        await upload(a, 'host-6', ['while-down']);
        const woken = await polling;
        expect(woken.status).toBe(200);
        expect(woken.body.revision).toBe(next);
        await until(() => reader.messages.includes('while-down'), 10_000, 'the line uploaded while down');
        // And once reconnected, notices flow again.
        await until(
          async () => (await (await fetch(`${b.url}/metrics`)).text()).includes('flotilla_cluster_bus_connected 1'),
          10_000,
          'B to reconnect',
        );
        const again = await parkPoll(b, 'host-7');
        const changedAt = Date.now();
        const last = await setWeb(a, '2.1');
        expect((await again.polling).body.revision).toBe(last);
        expect(Date.now() - changedAt).toBeLessThan(1000);
        await new Promise((r) => setTimeout(r, 300));
        expect(reader.messages.filter((m) => m === 'while-down')).toHaveLength(1);
      } finally {
        await reader.stop();
      }
    });

    it('makes exactly one replica the leader, and hands over when its session is cut or it stops', async () => {
      await until(async () => (await isLeader(a)) !== (await isLeader(b)), 6000, 'exactly one leader');
      const [holder, other] = (await isLeader(a)) ? [a, b] : [b, a];
      expect(await terminate(a.database, leaderApplicationName, true)).toBe(1);
      await until(async () => (await isLeader(other)) && !(await isLeader(holder)), 6000, 'the other to take over');
      // The replica that leads now stops: the remaining one takes over within seconds.
      const started = Date.now();
      await other.close();
      await until(() => isLeader(holder), 6000, 'the remaining replica to lead');
      expect(Date.now() - started).toBeLessThan(6000);
    });
  },
);
