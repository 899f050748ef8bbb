import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { revokeToken } from '../accounts/store.ts';
import { type Database, openDatabase } from '../db/connection.ts';
import { migrateToLatest } from '../db/migrate.ts';
import { createIdentityService } from '../identity/service.ts';
import { revokeIdentity } from '../identity/store.ts';
import { foundCredentialMs, TokenStore } from './tokens.ts';

// On SQLite, credentials found are reused for a few seconds, and any write through this process to a
// token, an identity or a user drops them at once, so a revocation is refused on the next request.

const opened: Database[] = [];
afterEach(async () => {
  for (const d of opened.splice(0)) await d.close();
});

async function setup() {
  const database = openDatabase(':memory:');
  opened.push(database);
  await migrateToLatest(database.db);
  let clock = Date.parse('2026-12-06T00:00:00Z');
  const tokens = new TokenStore(database.db, () => clock, { watchWrites: database.watchWrites?.bind(database) });
  return { database, tokens, advance: (ms: number) => (clock += ms) };
}

describe('found credentials', () => {
  it('refuses a token revoked through this process at once', async () => {
    const { database, tokens } = await setup();
    const { id, token } = await tokens.create('ops', 'admin');
    expect((await tokens.authenticate(`Bearer ${token}`)).name).toBe('ops');
    await revokeToken(database.db, id, new Date().toISOString());
    await expect(tokens.authenticate(`Bearer ${token}`)).rejects.toThrow(/revoked/);
  });

  it('refuses a revoked instance credential at once, and one whose enrolling token was revoked', async () => {
    const { database, tokens } = await setup();
    const agentToken = await tokens.create('agents', 'agent', undefined, { kind: 'agent', environment: 'prod' });
    const identities = createIdentityService({ db: database.db });
    const principal = await tokens.authenticate(`Bearer ${agentToken.token}`);
    const first = await identities.enroll(principal, { instanceId: 'host-1' });
    const second = await identities.enroll(principal, { instanceId: 'host-2' });
    expect((await tokens.authenticate(`Bearer ${first.credential}`)).instanceId).toBe('host-1');
    expect((await tokens.authenticate(`Bearer ${second.credential}`)).instanceId).toBe('host-2');
    await revokeIdentity(database.db, 'host-1', new Date().toISOString());
    await expect(tokens.authenticate(`Bearer ${first.credential}`)).rejects.toThrow(/revoked/);
    await revokeToken(database.db, agentToken.id, new Date().toISOString());
    await expect(tokens.authenticate(`Bearer ${second.credential}`)).rejects.toThrow(/revoked/);
  });

  it('reads again after foundCredentialMs, so a change it cannot see (another process) counts then', async () => {
    const { database, tokens, advance } = await setup();
    const { token } = await tokens.create('ops', 'admin');
    await tokens.authenticate(`Bearer ${token}`);
    // Raw SQL stands in for another process: this process's watcher does not see it.
    await sql`update api_tokens set revoked_at = '2026-12-06T00:00:01Z'`.execute(database.db);
    expect((await tokens.authenticate(`Bearer ${token}`)).name).toBe('ops');
    advance(foundCredentialMs - 1);
    expect((await tokens.authenticate(`Bearer ${token}`)).name).toBe('ops');
    advance(2);
    await expect(tokens.authenticate(`Bearer ${token}`)).rejects.toThrow(/revoked/);
  });

  it('keeps no credentials on a store without a write watcher', async () => {
    const database = openDatabase(':memory:');
    opened.push(database);
    await migrateToLatest(database.db);
    const tokens = new TokenStore(database.db);
    const { token } = await tokens.create('ops', 'admin');
    await tokens.authenticate(`Bearer ${token}`);
    await sql`update api_tokens set revoked_at = '2026-12-06T00:00:01Z'`.execute(database.db);
    await expect(tokens.authenticate(`Bearer ${token}`)).rejects.toThrow(/revoked/);
  });
});

describe("a credential's last use", () => {
  it('is written when found, and a store that refuses that write does not refuse the request', async () => {
    const { database, tokens, advance } = await setup();
    const agentToken = await tokens.create('agents', 'agent', undefined, { kind: 'agent', environment: 'prod' });
    const identities = createIdentityService({ db: database.db });
    const enrolled = await identities.enroll(await tokens.authenticate(`Bearer ${agentToken.token}`), {
      instanceId: 'host-1',
    });
    const lastUsed = async () =>
      (
        await database.db
          .selectFrom('agent_identities')
          .select('last_used_at')
          .where('instance_id', '=', 'host-1')
          .executeTakeFirst()
      )?.last_used_at;
    expect((await tokens.authenticate(`Bearer ${enrolled.credential}`)).instanceId).toBe('host-1');
    expect(await lastUsed()).not.toBeNull();
    await sql`update agent_identities set last_used_at = null`.execute(database.db);
    await sql`create trigger refuse_touch before update on agent_identities begin select raise(fail, 'read-only'); end`.execute(
      database.db,
    );
    // Last uses are written at most once a minute per instance.
    advance(60_000);
    expect((await tokens.authenticate(`Bearer ${enrolled.credential}`)).instanceId).toBe('host-1');
    expect(await lastUsed()).toBeNull();
  });
});
