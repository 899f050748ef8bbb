import type { Kysely } from 'kysely';
import { expect, it } from 'vitest';
import { allStoreKinds, describeEachStore, useMigratedDatabase } from '../../test/support/databases.ts';
import type { Principal } from '../auth/tokens.ts';
import type { Tables } from '../db/tables.ts';
import { NotFound } from '../errors.ts';
import { createAgentScope, recentRevisions } from './agent-scope.ts';

const at = '2026-01-01T00:00:00.000Z';
const agent = (environment: string | null): Principal => ({ tokenId: 't', name: 'a', role: 'agent', environment });

async function environment(db: Kysely<Tables>, name: string): Promise<void> {
  await db
    .insertInto('environments')
    .values({ name, requires_tested_in: null, created_at: at, created_by: 't' })
    .execute();
}

async function revision(db: Kysely<Tables>, env: string, revision: number, versions: Record<string, string>) {
  await db
    .insertInto('desired_revisions')
    .values({ env, revision, versions: JSON.stringify(versions), author: 't', comment: null, created_at: at })
    .execute();
}

async function rollout(db: Kysely<Tables>, env: string, state: string, base: number, target: number) {
  await db
    .insertInto('rollouts')
    .values({
      id: `r-${env}-${base}-${target}`,
      environment: env,
      state,
      base_revision: base,
      target_revision: target,
      seed: 's',
      waves: '[]',
      current_wave: 0,
      admitted: '{}',
      policy: '{}',
      comment: null,
      created_by: 't',
      created_at: at,
      wave_started_at: at,
      updated_at: at,
      finished_at: null,
    })
    .execute();
}

describeEachStore(allStoreKinds)('what agents may download, on %s', (kind) => {
  const handle = useMigratedDatabase(kind);

  it('an agent token cannot download a version never desired', async () => {
    const db = handle.current.db;
    await environment(db, 'prod');
    await environment(db, 'test');
    await revision(db, 'prod', 1, { web: '1.0' });
    await revision(db, 'test', 1, { web: '9.9-secret', api: '2.0' });
    const scope = createAgentScope(db);
    await expect(scope.requireDownloadable(agent('prod'), 'web', '1.0')).resolves.toBeUndefined();
    // Desired elsewhere, never here; and an agent bound to no environment reaches nothing.
    await expect(scope.requireDownloadable(agent('prod'), 'web', '9.9-secret')).rejects.toThrow(NotFound);
    await expect(scope.requireDownloadable(agent('prod'), 'api', '2.0')).rejects.toThrow(
      'service "api" has no version 2.0',
    );
    await expect(scope.requireDownloadable(agent(null), 'web', '1.0')).rejects.toThrow(NotFound);
    // People are not limited by it.
    const viewer: Principal = { tokenId: 'v', name: 'v', role: 'viewer' };
    await expect(scope.requireDownloadable(viewer, 'web', '9.9-secret')).resolves.toBeUndefined();
  });

  it(`keeps the last ${recentRevisions} revisions downloadable, and sees a new revision at once`, async () => {
    const db = handle.current.db;
    await environment(db, 'prod');
    const scope = createAgentScope(db);
    for (let r = 1; r <= recentRevisions + 2; r++) await revision(db, 'prod', r, { web: `${r}.0` });
    const allowed = await scope.allowedVersions('prod');
    expect([...(allowed.get('web') ?? [])].sort((a, b) => Number.parseFloat(a) - Number.parseFloat(b))).toEqual(
      Array.from({ length: recentRevisions }, (_, i) => `${i + 3}.0`),
    );
    await expect(scope.requireDownloadable(agent('prod'), 'web', '2.0')).rejects.toThrow(NotFound);
    // The cache is keyed by the latest revision: a new one is reachable on the next request.
    await revision(db, 'prod', recentRevisions + 3, { web: '99.0' });
    await expect(scope.requireDownloadable(agent('prod'), 'web', '99.0')).resolves.toBeUndefined();
  });

  it("keeps an active rollout's base and target downloadable however old, and not once it ends", async () => {
    const db = handle.current.db;
    await environment(db, 'prod');
    await revision(db, 'prod', 1, { web: 'base' });
    await revision(db, 'prod', 2, { web: 'target' });
    for (let r = 3; r <= recentRevisions + 4; r++) await revision(db, 'prod', r, { api: `${r}` });
    const scope = createAgentScope(db);
    await expect(scope.requireDownloadable(agent('prod'), 'web', 'target')).rejects.toThrow(NotFound);
    await rollout(db, 'prod', 'paused', 1, 2);
    await expect(scope.requireDownloadable(agent('prod'), 'web', 'base')).resolves.toBeUndefined();
    await expect(scope.requireDownloadable(agent('prod'), 'web', 'target')).resolves.toBeUndefined();
    await db.updateTable('rollouts').set({ state: 'aborted' }).execute();
    await expect(scope.requireDownloadable(agent('prod'), 'web', 'target')).rejects.toThrow(NotFound);
  });
});
