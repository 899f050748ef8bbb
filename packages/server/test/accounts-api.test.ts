import { afterAll, beforeAll, expect, it } from 'vitest';
import { openDatabase } from '../src/db/connection.ts';
import { allStoreKinds, describeEachStore } from './support/databases.ts';
import { adminToken, startTestServer, type TestServer } from './support/server.ts';

describeEachStore(allStoreKinds)('accounts API on %s', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind);
  });
  afterAll(async () => {
    await server?.stop();
  });

  async function call(method: string, path: string, token: string | null, body?: unknown) {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${server.url}/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    // biome-ignore lint/suspicious/noExplicitAny: test bodies are checked field by field
    return { status: res.status, headers: res.headers, text, body: (text ? JSON.parse(text) : null) as any };
  }
  const login = (name: string, password: string) => call('POST', '/auth/login', null, { name, password });

  it('answers 401 without a token and with a bad one, 403 to a viewer on admin routes', async () => {
    const none = await call('GET', '/users', null);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expect((await call('GET', '/users', 'flt_nope')).status).toBe(401);

    expect(
      (await call('POST', '/users', adminToken, { name: 'vera', role: 'viewer', password: 'viewer password 1' }))
        .status,
    ).toBe(201);
    const { body } = await login('vera', 'viewer password 1');
    const forbidden = await call('GET', '/users', body.token);
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error.code).toBe('forbidden');
    expect((await call('GET', '/audit', body.token)).status).toBe(403);
    expect((await call('POST', '/tokens', body.token, { kind: 'agent', name: 'a', environment: 'prod' })).status).toBe(
      403,
    );
  });

  it('creates, lists, changes and disables users, with an audit entry for each change', async () => {
    const short = await call('POST', '/users', adminToken, { name: 'dave', role: 'developer', password: 'short' });
    expect(short.status).toBe(400);
    const created = await call('POST', '/users', adminToken, {
      name: 'dave',
      role: 'developer',
      password: 'developer pass 1',
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'dave', role: 'developer', disabled: false });
    expect(created.text).not.toContain('developer pass 1');
    expect(created.text).not.toContain('scrypt');
    const dup = await call('POST', '/users', adminToken, {
      name: 'dave',
      role: 'viewer',
      password: 'developer pass 1',
    });
    expect(dup.status).toBe(409);

    const list = await call('GET', '/users', adminToken);
    expect(list.body.users.map((u: { name: string }) => u.name)).toContain('dave');
    expect(list.text).not.toContain('scrypt');

    const session = await login('dave', 'developer pass 1');
    expect(session.status).toBe(200);
    expect((await call('GET', '/whoami', session.body.token)).body).toMatchObject({
      user: 'dave',
      role: 'developer',
      kind: 'personal',
    });

    const promoted = await call('PATCH', '/users/dave', adminToken, { role: 'admin', password: 'a new password 22' });
    expect(promoted.body.role).toBe('admin');
    expect((await call('GET', '/whoami', session.body.token)).body.role).toBe('admin');
    expect((await login('dave', 'developer pass 1')).status).toBe(401);
    expect((await login('dave', 'a new password 22')).status).toBe(200);

    const disabled = await call('PATCH', '/users/dave', adminToken, { disabled: true });
    expect(disabled.body.disabled).toBe(true);
    const refused = await call('GET', '/whoami', session.body.token);
    expect(refused.status).toBe(401);
    expect((await login('dave', 'a new password 22')).status).toBe(401);
    expect((await call('PATCH', '/users/nobody', adminToken, { disabled: true })).status).toBe(404);

    const audit = await call('GET', '/audit?actor=token:FLOTILLA_ADMIN_TOKEN&limit=500', adminToken);
    const forDave = audit.body.entries.filter((e: { target: string }) => e.target === 'user:dave');
    expect(forDave.map((e: { action: string }) => e.action)).toEqual(['user.update', 'user.update', 'user.create']);
    expect(forDave[0]).toMatchObject({
      before: { role: 'admin', disabled: false },
      after: { role: 'admin', disabled: true },
    });
    expect(forDave[0].after.revokedTokens).toHaveLength(2);
    expect(forDave[1]).toMatchObject({
      before: { role: 'developer' },
      after: { role: 'admin', passwordChanged: true },
    });
    expect(forDave[2]).toMatchObject({
      actor: 'token:FLOTILLA_ADMIN_TOKEN',
      before: null,
      after: { name: 'dave', role: 'developer' },
    });
    const logins = await call('GET', '/audit?action=user.login', adminToken);
    expect(logins.body.entries.some((e: { actor: string }) => e.actor === 'dave')).toBe(true);
  });

  it('delays a name and address after 5 failed logins with Retry-After, without locking it', async () => {
    await call('POST', '/users', adminToken, { name: 'lucy', role: 'viewer', password: 'lucy password 1' });
    for (let i = 0; i < 5; i++) expect((await login('lucy', 'wrong password!')).status).toBe(401);
    const locked = await login('lucy', 'lucy password 1');
    expect(locked.status).toBe(429);
    expect(locked.body.error.code).toBe('rate_limited');
    // The first delay is 1 s after the last failure, not a 15-minute lock.
    expect(locked.headers.get('retry-after')).toBe('1');
    // Failed logins are not audited.
    const audit = await call('GET', '/audit?limit=500', adminToken);
    expect(audit.text).not.toContain('wrong password');
    expect(audit.body.entries.filter((e: { actor: string }) => e.actor === 'lucy')).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect((await login('lucy', 'lucy password 1')).status).toBe(200);
  });

  it('shows a token once, never in lists, and revokes it', async () => {
    await call('POST', '/users', adminToken, { name: 'tom', role: 'developer', password: 'tom password 12' });
    const tom = (await login('tom', 'tom password 12')).body.token as string;
    const personal = await call('POST', '/tokens', tom, { kind: 'personal', name: 'laptop', expiresInDays: 7 });
    expect(personal.status).toBe(201);
    expect(personal.body.token).toMatch(/^flt_/);
    expect(personal.body.info).toMatchObject({ name: 'laptop', kind: 'personal', user: 'tom', role: 'developer' });
    // An agent token only binds an environment and profile that exist, so it cannot fail only later.
    const agentBody = { kind: 'agent', name: 'edge', environment: 'staging', profile: 'eu' };
    const noEnv = await call('POST', '/tokens', tom, agentBody);
    expect(noEnv.status).toBe(404);
    expect(noEnv.body.error).toEqual({ code: 'not_found', message: 'environment "staging" not found' });
    expect((await call('POST', '/environments', adminToken, { name: 'staging' })).status).toBe(201);
    const noProfile = await call('POST', '/tokens', tom, agentBody);
    expect(noProfile.status).toBe(404);
    expect(noProfile.body.error).toEqual({ code: 'not_found', message: 'profile "eu" not found' });
    expect((await call('POST', '/services', adminToken, { name: 'web' })).status).toBe(201);
    expect((await call('PUT', '/profiles/eu', adminToken, { services: ['web'] })).status).toBe(200);
    const agent = await call('POST', '/tokens', tom, agentBody);
    expect(agent.status).toBe(201);
    expect((await call('GET', '/whoami', agent.body.token)).body).toMatchObject({
      role: 'agent',
      environment: 'staging',
      profile: 'eu',
    });
    expect((await call('POST', '/tokens', tom, { kind: 'agent', name: 'x' })).status).toBe(400);
    expect((await call('POST', '/tokens', adminToken, { kind: 'personal', name: 'x' })).status).toBe(400);

    const mine = await call('GET', '/tokens', tom);
    expect(mine.body.tokens.map((t: { name: string }) => t.name).sort()).toEqual(['edge', 'laptop', 'login']);
    const all = await call('GET', '/tokens', adminToken);
    expect(all.body.tokens.length).toBeGreaterThan(mine.body.tokens.length);
    for (const list of [mine, all]) {
      expect(list.text).not.toContain(personal.body.token);
      expect(list.text).not.toContain(agent.body.token);
      expect(list.text).not.toContain('token_hash');
    }

    // Another non-admin cannot revoke tom's token.
    await call('POST', '/users', adminToken, { name: 'val', role: 'viewer', password: 'val password 12' });
    const val = (await login('val', 'val password 12')).body.token as string;
    expect((await call('DELETE', `/tokens/${personal.body.info.id}`, val)).status).toBe(403);
    expect((await call('DELETE', '/tokens/nope', tom)).status).toBe(404);
    const revoked = await call('DELETE', `/tokens/${personal.body.info.id}`, tom);
    expect(revoked.status).toBe(200);
    expect(revoked.body.revokedAt).toBeTruthy();
    expect((await call('GET', '/whoami', personal.body.token)).status).toBe(401);
    expect((await call('DELETE', `/tokens/${agent.body.info.id}`, adminToken)).status).toBe(200);
    expect((await call('GET', '/whoami', agent.body.token)).status).toBe(401);

    const audit = await call('GET', `/audit?actor=tom&action=token.revoke`, adminToken);
    expect(audit.body.entries).toHaveLength(1);
    expect(audit.body.entries[0]).toMatchObject({
      target: `token:${personal.body.info.id}`,
      before: { name: 'laptop', revokedAt: null },
      after: { name: 'laptop' },
    });
  });

  it('pages the audit log newest first and keeps secrets out of it', async () => {
    const first = await call('GET', '/audit?limit=3', adminToken);
    expect(first.body.entries).toHaveLength(3);
    const seen = new Set(first.body.entries.map((e: { id: string }) => e.id));
    let next = first.body.next as string | null;
    let pages = 0;
    while (next && pages < 100) {
      const page = await call('GET', `/audit?limit=3&before=${next}`, adminToken);
      for (const e of page.body.entries) {
        expect(seen.has(e.id)).toBe(false);
        seen.add(e.id);
      }
      next = page.body.next;
      pages++;
    }
    const all = await call('GET', '/audit?limit=500', adminToken);
    expect(seen.size).toBe(all.body.entries.length);
    const times = all.body.entries.map((e: { at: string }) => e.at);
    expect([...times].sort().reverse()).toEqual(times);
    const future = await call('GET', `/audit?from=${new Date(Date.now() + 60_000).toISOString()}`, adminToken);
    expect(future.body.entries).toEqual([]);

    // Straight from the store: no password, hash or token anywhere in the audit rows.
    const database = openDatabase(server.database);
    try {
      const rows = JSON.stringify(await database.db.selectFrom('audit_log').selectAll().execute());
      const hashes = await database.db.selectFrom('api_tokens').select('token_hash').execute();
      for (const secret of ['password 1', 'password 12', 'scrypt$', 'flt_', ...hashes.map((h) => h.token_hash)]) {
        expect(rows).not.toContain(secret);
      }
    } finally {
      await database.close();
    }
  });

  it('answers whoami for the admin token', async () => {
    const me = await call('GET', '/whoami', adminToken);
    expect(me.body).toMatchObject({ name: 'FLOTILLA_ADMIN_TOKEN', role: 'admin', kind: 'admin', user: null });
  });
});
