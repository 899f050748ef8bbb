import { expect, it } from 'vitest';
import { allStoreKinds, describeEachStore, useMigratedDatabase } from '../../test/support/databases.ts';
import { hashToken, type Principal, TokenStore } from '../auth/tokens.ts';
import { createAccountsService } from './service.ts';

const local: Principal = { tokenId: '', name: 'test', role: 'admin', kind: 'local' };
const bearer = (token: string) => `Bearer ${token}`;

describeEachStore(allStoreKinds)('token store on %s', (kind) => {
  const handle = useMigratedDatabase(kind);

  async function userWithToken(role: 'admin' | 'developer' | 'viewer') {
    const db = handle.current.db;
    const accounts = createAccountsService({ db });
    await accounts.createUser(local, { name: 'alice', role, password: 'a long enough password' });
    const created = await accounts.login({ name: 'alice', password: 'a long enough password' }, '127.0.0.1');
    return { accounts, tokens: new TokenStore(db), created };
  }

  it('gives a personal token the user role as it is now', async () => {
    const { accounts, tokens, created } = await userWithToken('viewer');
    const before = await tokens.authenticate(bearer(created.token));
    expect(before).toMatchObject({ role: 'viewer', kind: 'personal', userName: 'alice' });
    expect(before.userId).toBeTruthy();
    await accounts.updateUser(local, 'alice', { role: 'developer' });
    expect((await tokens.authenticate(bearer(created.token))).role).toBe('developer');
  });

  it('refuses the tokens of a disabled user, even if the revocation were undone', async () => {
    const { accounts, tokens, created } = await userWithToken('developer');
    await accounts.updateUser(local, 'alice', { disabled: true });
    await expect(tokens.authenticate(bearer(created.token))).rejects.toThrow('the user "alice" is disabled');
    // Un-revoke by hand: the disabled user still stops it.
    await handle.current.db.updateTable('api_tokens').set({ revoked_at: null }).execute();
    await expect(tokens.authenticate(bearer(created.token))).rejects.toThrow('the user "alice" is disabled');
  });

  it('refuses expired and revoked tokens', async () => {
    const db = handle.current.db;
    let now = Date.now();
    const tokens = new TokenStore(db, () => now);
    const { token } = await tokens.create('short', 'admin', undefined, {
      expiresAt: new Date(now + 1000).toISOString(),
    });
    expect((await tokens.authenticate(bearer(token))).role).toBe('admin');
    now += 2000;
    await expect(tokens.authenticate(bearer(token))).rejects.toThrow(/"short" expired at/);

    const { accounts, created } = await userWithToken('viewer');
    await accounts.revokeToken(local, created.info.id);
    await expect(tokens.authenticate(bearer(created.token))).rejects.toThrow(/"login" was revoked at/);
    await expect(tokens.authenticate(bearer('flt_never_issued'))).rejects.toThrow('the token is unknown');
  });

  it('gives an agent token its environment and profile', async () => {
    const db = handle.current.db;
    const accounts = createAccountsService({ db });
    const tokens = new TokenStore(db);
    const now = new Date().toISOString();
    await db
      .insertInto('environments')
      .values({ name: 'production', requires_tested_in: null, created_at: now, created_by: 't' })
      .execute();
    await db.insertInto('profiles').values({ name: 'eu', updated_at: now }).execute();
    const created = await accounts.createToken(local, {
      kind: 'agent',
      name: 'edge-1',
      environment: 'production',
      profile: 'eu',
    });
    const p = await tokens.authenticate(bearer(created.token));
    expect(p).toMatchObject({ role: 'agent', kind: 'agent', environment: 'production', profile: 'eu', userId: null });
  });

  it('stores only the hash, and keeps the first-start admin token working', async () => {
    const db = handle.current.db;
    const tokens = new TokenStore(db);
    expect(await tokens.hasActiveAdmin()).toBe(false);
    const { token } = await tokens.create('first admin', 'admin');
    expect(await tokens.hasActiveAdmin()).toBe(true);
    const rows = await db.selectFrom('api_tokens').selectAll().execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]?.token_hash).toBe(hashToken(token));
    expect(rows[0]?.kind).toBe('admin');
    expect(JSON.stringify(rows)).not.toContain(token);
    expect(await tokens.authenticate(bearer(token))).toMatchObject({ role: 'admin', kind: 'admin' });
  });

  it('counts an enabled admin user as an active admin', async () => {
    const db = handle.current.db;
    const tokens = new TokenStore(db);
    const accounts = createAccountsService({ db });
    await accounts.createUser(local, { name: 'root', role: 'admin', password: 'a long enough password' });
    expect(await tokens.hasActiveAdmin()).toBe(true);
    await accounts.updateUser(local, 'root', { disabled: true });
    expect(await tokens.hasActiveAdmin()).toBe(false);
  });

  it('restores a revoked FLOTILLA_ADMIN_TOKEN at start and replaces an old value', async () => {
    const db = handle.current.db;
    const tokens = new TokenStore(db);
    await tokens.ensureEnvAdmin('flt_env_one_0123456789');
    await db.updateTable('api_tokens').set({ revoked_at: new Date().toISOString() }).execute();
    await tokens.ensureEnvAdmin('flt_env_one_0123456789');
    expect((await tokens.authenticate(bearer('flt_env_one_0123456789'))).role).toBe('admin');
    await tokens.ensureEnvAdmin('flt_env_two_0123456789');
    await expect(tokens.authenticate(bearer('flt_env_one_0123456789'))).rejects.toThrow();
    expect((await db.selectFrom('api_tokens').select('id').execute()).length).toBe(1);
  });
});
