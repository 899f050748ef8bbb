import { createServer } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { callApi } from '../../test/support/api.ts';
import {
  allStoreKinds,
  createTestDatabase,
  describeEachStore,
  type TestDatabase,
} from '../../test/support/databases.ts';
import { startTestServer, type TestServer } from '../../test/support/server.ts';

const password = 'first admin password';
const csrf = { 'x-flotilla-csrf': '1' };
const from = (address: string) => ({ ...csrf, 'x-forwarded-for': address });

/** A loopback port nothing listens on now, so a test knows the URL before the server is up. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

describeEachStore(allStoreKinds)('first admin setup over HTTP on %s', (kind) => {
  let db: TestDatabase;
  let server: TestServer | null = null;
  // Trusting loopback lets each test speak from its own client address.
  // A restart keeps the data directory (and its keys), as a real one does.
  const start = async () => {
    const again = server ? { dir: server.dir } : {};
    server = await startTestServer(kind, { database: db.location, trustedProxies: '127.0.0.1/32' }, again);
    return server;
  };
  const post = (s: TestServer, body: unknown, headers: Record<string, string>) =>
    callApi(s.url, 'POST', '/api/v1/setup', { token: null, body, headers });

  beforeAll(async () => {
    db = await createTestDatabase(kind);
  });
  afterAll(async () => {
    await server?.stop();
    await db?.drop();
  });

  it('tells the public only whether setup is pending', async () => {
    const s = await start();
    expect(s.setupCode).toMatch(/^[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}$/);
    const status = await callApi(s.url, 'GET', '/api/v1/setup', { token: null });
    expect(status.status).toBe(200);
    expect(status.body).toEqual({ state: 'pending' });
    expect(status.headers.get('cache-control')).toBe('no-store');
  });

  it('refuses a missing CSRF header, a wrong code, and then too many wrong codes from one address', async () => {
    const s = server as TestServer;
    const noCsrf = await post(s, { code: s.setupCode, name: 'root', password }, {});
    expect(noCsrf.status).toBe(403);
    for (let i = 0; i < 5; i++) {
      const wrong = await post(s, { code: 'AAAA-BBBB-CCCC', name: 'root', password }, from('198.51.100.7'));
      expect(wrong.status).toBe(401);
      expect(wrong.body.error.message).toContain('wrong setup code');
    }
    const limited = await post(s, { code: s.setupCode, name: 'root', password }, from('198.51.100.7'));
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    const missing = await post(s, { name: 'root', password }, from('198.51.100.8'));
    expect(missing.status).toBe(400);
    expect((await callApi(s.url, 'GET', '/api/v1/setup', { token: null })).body).toEqual({ state: 'pending' });
  });

  it('creates the first admin with the code and signs the browser in', async () => {
    const s = server as TestServer;
    const code = (s.setupCode as string).toLowerCase().replaceAll('-', ' ');
    const done = await post(s, { code, name: 'root', password }, from('198.51.100.9'));
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ user: 'root', role: 'admin', kind: 'personal' });
    const cookie = (done.headers.get('set-cookie') ?? '').split(';')[0] as string;
    expect(cookie).toMatch(/^flotilla_session=flt_/);
    const me = await callApi(s.url, 'GET', '/api/v1/whoami', { token: null, headers: { cookie } });
    expect(me.body).toMatchObject({ user: 'root', role: 'admin' });
    // The new admin signs in with the password too.
    const login = await callApi(s.url, 'POST', '/api/v1/auth/login', { token: null, body: { name: 'root', password } });
    expect(login.status).toBe(200);
  });

  it('does not take the code again once the first admin exists', async () => {
    const s = server as TestServer;
    expect((await callApi(s.url, 'GET', '/api/v1/setup', { token: null })).body).toEqual({ state: 'done' });
    const again = await post(s, { code: s.setupCode, name: 'intruder', password }, from('198.51.100.10'));
    expect(again.status).toBe(409);
    expect(again.body.error.message).toContain('a user exists');
    const users = await callApi(s.url, 'GET', '/api/v1/users');
    expect(users.body.users.map((u: { name: string }) => u.name)).toEqual(['root']);
  });

  it('makes no code at a restart once a user exists', async () => {
    await server?.stop();
    const s = await start();
    expect(s.setupCode).toBeNull();
    expect((await callApi(s.url, 'GET', '/api/v1/setup', { token: null })).body).toEqual({ state: 'done' });
  });
});

describeEachStore(allStoreKinds)('a setup code voided by wrong guesses on %s', (kind) => {
  it('answers closed, says what to do, and a restart makes a working code again', async () => {
    const db = await createTestDatabase(kind);
    let s = await startTestServer(kind, { database: db.location, trustedProxies: '127.0.0.1/32' });
    try {
      // 5 per address, 100 in all: the code stops working for everyone.
      for (let i = 0; i < 100; i++) {
        const wrong = await callApi(s.url, 'POST', '/api/v1/setup', {
          token: null,
          body: { code: 'AAAA-BBBB-CCCC', name: 'root', password },
          headers: from(`203.0.113.${Math.floor(i / 5)}`),
        });
        expect(wrong.status).toBe(401);
      }
      const status = await callApi(s.url, 'GET', '/api/v1/setup', { token: null });
      expect(status.body).toEqual({ state: 'closed' });
      const late = await callApi(s.url, 'POST', '/api/v1/setup', {
        token: null,
        body: { code: s.setupCode, name: 'root', password },
        headers: from('203.0.113.200'),
      });
      expect(late.status).toBe(409);
      expect(late.body.error.message).toContain('100 wrong setup codes were tried');
      expect(late.body.error.message).toContain('flotilla user add <name> --role admin --data-dir <data dir>');

      await s.stop();
      s = await startTestServer(kind, { database: db.location }, { dir: s.dir });
      expect((await callApi(s.url, 'GET', '/api/v1/setup', { token: null })).body).toEqual({ state: 'pending' });
    } finally {
      await s.stop();
      await db.drop();
    }
  });
});

describeEachStore(allStoreKinds)('a fresh server on %s', (kind) => {
  it('answers setup pending from its very first request', async () => {
    const port = await freePort();
    const db = await createTestDatabase(kind);
    let settled = false;
    const starting = startTestServer(kind, { database: db.location, port: String(port) }).finally(() => {
      settled = true;
    });
    try {
      // Asks as fast as it can while the server starts: the first answer it gets must already be pending.
      let first: unknown;
      while (first === undefined) {
        first = await fetch(`http://127.0.0.1:${port}/api/v1/setup`).then(
          (res) => res.json(),
          () => undefined,
        );
        // Once started, the next try answers; a failed start ends the test with its error.
        if (first === undefined && settled) await starting;
      }
      expect(first).toEqual({ state: 'pending' });
    } finally {
      await (await starting.catch(() => null))?.stop();
      await db.drop();
    }
  });
});

describeEachStore(allStoreKinds)('a restart before the first admin exists on %s', (kind) => {
  it('prints a new code and the old one stops working', async () => {
    const db = await createTestDatabase(kind);
    const first = await startTestServer(kind, { database: db.location });
    const old = first.setupCode as string;
    await first.stop();
    const second = await startTestServer(kind, { database: db.location }, { dir: first.dir });
    try {
      expect(second.setupCode).toMatch(/^[A-Z2-9-]{14}$/);
      expect(second.setupCode).not.toBe(old);
      const stale = await callApi(second.url, 'POST', '/api/v1/setup', {
        token: null,
        body: { code: old, name: 'root', password },
        headers: csrf,
      });
      expect(stale.status).toBe(401);
      const fresh = await callApi(second.url, 'POST', '/api/v1/setup', {
        token: null,
        body: { code: second.setupCode, name: 'root', password },
        headers: csrf,
      });
      expect(fresh.status).toBe(200);
    } finally {
      await second.stop();
      await db.drop();
    }
  });
});
