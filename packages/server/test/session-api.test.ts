import { afterAll, beforeAll, expect, it } from 'vitest';
import { allStoreKinds, describeEachStore } from './support/databases.ts';
import { adminToken, startTestServer, type TestServer } from './support/server.ts';

const password = 'session password 1';
// biome-ignore lint/suspicious/noExplicitAny: test bodies are checked field by field
const bodyOf = async (res: Response): Promise<any> => res.json();

describeEachStore(allStoreKinds)('dashboard session API on %s', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    // Trusting loopback lets a test say "this came over https" with X-Forwarded-Proto.
    server = await startTestServer(kind, { trustedProxies: '127.0.0.1/32' });
    for (const name of ['sam', 'lou']) {
      const res = await fetch(`${server.url}/api/v1/users`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name, role: 'developer', password }),
      });
      expect(res.status).toBe(201);
    }
  });
  afterAll(async () => {
    await server?.stop();
  });

  const signIn = (name: string, pass: string, headers: Record<string, string> = { 'x-flotilla-csrf': '1' }) =>
    fetch(`${server.url}/api/v1/auth/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ name, password: pass }),
    });
  const cookieOf = (res: Response) => (res.headers.get('set-cookie') ?? '').split(';')[0] as string;

  it('signs in with a cookie that is HttpOnly, SameSite=Strict, Path=/ and lasts 12 hours', async () => {
    const res = await signIn('sam', password);
    expect(res.status).toBe(200);
    expect(await bodyOf(res)).toMatchObject({ user: 'sam', role: 'developer', kind: 'personal' });
    const cookie = res.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^flotilla_session=flt_[\w-]+; /);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');
    expect(cookie).toContain('Path=/');
    expect(cookie).toContain('Max-Age=43200');
    expect(cookie).not.toContain('Secure');

    const me = await fetch(`${server.url}/api/v1/whoami`, { headers: { cookie: cookieOf(res) } });
    expect(me.status).toBe(200);
    expect(await bodyOf(me)).toMatchObject({ user: 'sam', kind: 'personal' });

    // The token behind the cookie expires with it, not after the login default of 30 days.
    const tokens = await fetch(`${server.url}/api/v1/tokens`, { headers: { cookie: cookieOf(res) } });
    const session = (await bodyOf(tokens)).tokens.find((t: { name: string }) => t.name === 'sam (dashboard)');
    const left = Date.parse(session.expiresAt) - Date.now();
    expect(left).toBeGreaterThan(11 * 3600_000);
    expect(left).toBeLessThanOrEqual(12 * 3600_000);
  });

  it('marks the cookie Secure when the request came over https', async () => {
    const res = await signIn('sam', password, { 'x-flotilla-csrf': '1', 'x-forwarded-proto': 'https' });
    expect(res.status).toBe(200);
    expect(res.headers.get('set-cookie')).toContain('; Secure');
  });

  it('refuses cookie requests with unsafe methods and no CSRF header; bearer requests need none', async () => {
    const cookie = cookieOf(await signIn('sam', password));
    const body = JSON.stringify({ kind: 'personal', name: 'from-cookie' });
    const json = { 'content-type': 'application/json' };
    const refused = await fetch(`${server.url}/api/v1/tokens`, { method: 'POST', headers: { ...json, cookie }, body });
    expect(refused.status).toBe(403);
    expect((await bodyOf(refused)).error.message).toContain('X-Flotilla-Csrf: 1');
    const wrong = await fetch(`${server.url}/api/v1/tokens`, {
      method: 'POST',
      headers: { ...json, cookie, 'x-flotilla-csrf': 'yes' },
      body,
    });
    expect(wrong.status).toBe(403);
    const ok = await fetch(`${server.url}/api/v1/tokens`, {
      method: 'POST',
      headers: { ...json, cookie, 'x-flotilla-csrf': '1' },
      body,
    });
    expect(ok.status).toBe(201);
    // Reads need no header.
    expect((await fetch(`${server.url}/api/v1/services`, { headers: { cookie } })).status).toBe(200);
    const bearer = await fetch(`${server.url}/api/v1/services`, {
      method: 'POST',
      headers: { ...json, authorization: `Bearer ${adminToken}` },
      body: JSON.stringify({ name: 'bearer-made' }),
    });
    expect(bearer.status).toBe(201);
    // Sign-in itself needs the header too, so a foreign page cannot sign a browser in.
    expect((await signIn('sam', password, {})).status).toBe(403);
  });

  it('keeps agent routes bearer-only', async () => {
    const cookie = cookieOf(await signIn('sam', password));
    const res = await fetch(`${server.url}/api/v1/agent/desired`, { headers: { cookie } });
    expect(res.status).toBe(401);
  });

  it('signs out: revokes the token and clears the cookie', async () => {
    const cookie = cookieOf(await signIn('sam', password));
    expect((await fetch(`${server.url}/api/v1/auth/session`, { method: 'DELETE', headers: { cookie } })).status).toBe(
      403,
    );
    const out = await fetch(`${server.url}/api/v1/auth/session`, {
      method: 'DELETE',
      headers: { cookie, 'x-flotilla-csrf': '1' },
    });
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/^flotilla_session=; .*Max-Age=0/);
    const me = await fetch(`${server.url}/api/v1/whoami`, { headers: { cookie } });
    expect(me.status).toBe(401);
    expect((await bodyOf(me)).error.message).toContain('revoked');
    // Signing out again with the dead cookie still clears it.
    const again = await fetch(`${server.url}/api/v1/auth/session`, {
      method: 'DELETE',
      headers: { cookie, 'x-flotilla-csrf': '1' },
    });
    expect(again.status).toBe(204);
  });

  it('answers 401 to a wrong password and locks out after repeated failures, sharing the login counter', async () => {
    const wrong = await signIn('lou', 'not the password');
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    expect((await bodyOf(wrong)).error.code).toBe('unauthorized');
    // Failures through the token login count against the same limit.
    for (let i = 0; i < 4; i += 1) {
      const res = await fetch(`${server.url}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'lou', password: 'still not it' }),
      });
      expect(res.status).toBe(401);
    }
    const locked = await signIn('lou', password);
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(locked.headers.get('set-cookie')).toBeNull();
  });
});
