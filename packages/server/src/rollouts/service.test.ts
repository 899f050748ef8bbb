import { expect, it } from 'vitest';
import { allStoreKinds, describeEachStore, useMigratedDatabase } from '../../test/support/databases.ts';
import { isVersionPinned } from '../catalog/pins.ts';
import { catalogLookup } from '../desired/catalog-lookup.ts';
import { createInstanceService } from '../desired/instances-service.ts';
import { createDesiredService } from '../desired/service.ts';
import { principal, seedCatalog } from '../desired/testing.test.helper.ts';
import { Conflict, Invalid, RolloutActive } from '../errors.ts';
import { enrolForTest } from '../identity/testing.test.helper.ts';
import { assignedRevision } from './assignment.ts';
import { createRolloutService, evaluateRollouts } from './service.ts';
import { assignWave } from './waves.ts';

const alice = principal('alice');

describeEachStore(allStoreKinds)('rollout service on %s', (kind) => {
  const handle = useMigratedDatabase(kind);
  const setup = async () => {
    const db = handle.current.db;
    await seedCatalog(db, { web: ['1.0', '2.0'], api: ['1.0'] });
    const desired = createDesiredService({ db, lookup: catalogLookup });
    const notified: string[] = [];
    const rollouts = createRolloutService({ db, desired, notify: (env) => notified.push(env) });
    const instances = createInstanceService({ db });
    await desired.createEnvironment(alice, { name: 'prod' });
    await desired.editDesired(alice, 'prod', { set: { web: '1.0', api: '1.0' } });
    const ids = Array.from({ length: 8 }, (_, i) => `host-${i}`);
    const report = (id: string, web: string, extra: Record<string, unknown> = {}) =>
      instances.report(
        { environment: 'prod', profile: null },
        { instanceId: id, services: [{ service: 'web', version: web, state: 'running', ...extra }] },
      );
    await enrolForTest(db, 'prod', ids);
    for (const id of ids) await report(id, '1.0');
    return { db, desired, rollouts, ids, report, notified };
  };

  it('starts at wave 0 with a new target revision, and refuses a second rollout and direct edits', async () => {
    const { db, desired, rollouts } = await setup();
    await expect(rollouts.start(alice, 'prod', { set: { web: '9' }, waves: [{ percent: 10 }] })).rejects.toThrow(
      Invalid,
    );
    const r = await rollouts.start(alice, 'prod', { set: { web: '2.0' }, waves: [{ percent: 50 }] });
    expect(r).toMatchObject({ state: 'running', currentWave: 0, baseRevision: 1, targetRevision: 2 });
    expect(r.waves.map((w) => w.wave)).toEqual([{ percent: 50 }, { percent: 100 }]);
    expect(r.history).toHaveLength(1);
    expect((await desired.getDesired('prod')).versions).toEqual({ web: '2.0', api: '1.0' });
    await expect(rollouts.start(alice, 'prod', { set: { api: '1.0' }, waves: [{ percent: 10 }] })).rejects.toThrow(
      Conflict,
    );
    await expect(desired.editDesired(alice, 'prod', { set: { web: '1.0' } })).rejects.toThrow(/active rollout/);
    // The base and target versions stay pinned while the rollout is active.
    expect(await isVersionPinned(db, 'web', '2.0')).toBe(true);
    expect(await assignedRevision(db, 'prod')).toBe(1);
  });

  it('serves the target to the current wave only, advances on success and completes', async () => {
    const { db, rollouts, ids, report, notified } = await setup();
    // A seed that puts some but not all instances in the first wave (a random one misses all 8 in
    // 1 of 256 runs), so the wave advances through the service, which notifies, and not at once.
    const inFirstWave = (seed: string) =>
      ids.filter((id) => assignWave([{ percent: 50 }, { percent: 100 }], seed, { instanceId: id, labels: {} }) === 0)
        .length;
    const seed = Array.from({ length: 64 }, (_, i) => `seed-${i}`).find(
      (s) => inFirstWave(s) > 0 && inFirstWave(s) < ids.length,
    );
    const r = await rollouts.start(alice, 'prod', { set: { web: '2.0' }, waves: [{ percent: 50 }], seed });
    const first = ids.filter(
      (id) =>
        assignWave(
          r.waves.map((w) => w.wave),
          r.seed,
          { instanceId: id, labels: {} },
        ) === 0,
    );
    for (const id of ids) {
      expect(await assignedRevision(db, 'prod', id)).toBe(first.includes(id) ? 2 : 1);
    }
    expect(first.length).toBeGreaterThan(0);
    expect(await evaluateRollouts(db, new Date())).toEqual([]);
    for (const id of first) await report(id, '2.0');
    await rollouts.evaluateNow();
    expect((await rollouts.get(r.id)).currentWave).toBe(1);
    expect(notified).toContain('prod');
    for (const id of ids) expect(await assignedRevision(db, 'prod', id)).toBe(2);
    for (const id of ids) await report(id, '2.0');
    await rollouts.evaluateNow();
    const done = await rollouts.get(r.id);
    expect(done.state).toBe('completed');
    expect(done.finishedAt).not.toBeNull();
    expect(done.history.map((h) => h.to)).toEqual(['running', 'running', 'completed']);
    expect(await assignedRevision(db, 'prod', ids[0])).toBeUndefined();
  });

  it('pauses on failures, refuses wrong actions, and aborts back to the base as a new revision', async () => {
    const { db, desired, rollouts, ids, report } = await setup();
    const r = await rollouts.start(alice, 'prod', { set: { web: '2.0' }, waves: [{ percent: 100 }] });
    for (const id of ids.slice(0, 2)) await report(id, '1.0', { targetVersion: '2.0', updateError: 'boom' });
    await evaluateRollouts(db, new Date());
    expect((await rollouts.get(r.id)).state).toBe('paused');
    await expect(rollouts.act(alice, r.id, 'approve')).rejects.toThrow(Conflict);
    expect((await rollouts.act(alice, r.id, 'resume')).state).toBe('running');
    expect((await rollouts.act(alice, r.id, 'pause')).state).toBe('paused');
    const aborted = await rollouts.act(alice, r.id, 'abort');
    expect(aborted.state).toBe('aborted');
    const current = await desired.getDesired('prod');
    expect(current).toMatchObject({ revision: 3, versions: { web: '1.0', api: '1.0' } });
    expect(current.comment).toBe(`rollout ${r.id} aborted`);
    await expect(rollouts.act(alice, r.id, 'abort')).rejects.toThrow(Conflict);
    // Edits work again once the rollout is over.
    expect((await desired.editDesired(alice, 'prod', { set: { web: '2.0' } })).revision).toBe(4);
  });

  it('aborts on failures when onError is abort', async () => {
    const { db, desired, rollouts, ids, report } = await setup();
    const r = await rollouts.start(alice, 'prod', { set: { web: '2.0' }, waves: [{ percent: 100 }], onError: 'abort' });
    await report(ids[0] as string, '2.0', { state: 'failed' });
    await evaluateRollouts(db, new Date());
    expect((await rollouts.get(r.id)).state).toBe('aborted');
    expect((await desired.getDesired('prod')).revision).toBe(3);
  });

  it('waits for approval between waves', async () => {
    const { db, rollouts, ids, report } = await setup();
    const r = await rollouts.start(alice, 'prod', {
      set: { web: '2.0' },
      waves: [{ selector: { none: 'x' } }, { percent: 100 }],
      requireApproval: true,
    });
    await evaluateRollouts(db, new Date());
    expect((await rollouts.get(r.id)).state).toBe('waiting_approval');
    for (const id of ids) expect(await assignedRevision(db, 'prod', id)).toBe(1);
    const approved = await rollouts.act(alice, r.id, 'approve');
    expect(approved).toMatchObject({ state: 'running', currentWave: 1 });
    for (const id of ids) expect(await assignedRevision(db, 'prod', id)).toBe(2);
    for (const id of ids) await report(id, '2.0');
    await evaluateRollouts(db, new Date());
    expect((await rollouts.get(r.id)).state).toBe('completed');
  });
  it('names its change, and a refused change names the rollout by its change and id', async () => {
    const { desired, rollouts } = await setup();
    await desired.editDesired(alice, 'prod', { remove: ['api'] });
    await seedCatalog(handle.current.db, { worker: ['1.0'] });
    const r = await rollouts.start(alice, 'prod', { set: { web: '2.0', worker: '1.0' }, waves: [{ percent: 50 }] });
    expect(r.changes).toEqual([
      { service: 'web', from: '1.0', to: '2.0' },
      { service: 'worker', from: null, to: '1.0' },
    ]);
    expect((await rollouts.list('prod', { active: true })).map((x) => x.id)).toEqual([r.id]);
    const refused = await desired.rollback(alice, 'prod', { revision: 1 }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(RolloutActive);
    expect((refused as RolloutActive).code).toBe('rollout_active');
    expect((refused as RolloutActive).rollout).toEqual({
      id: r.id,
      environment: 'prod',
      state: 'running',
      changes: r.changes,
    });
    expect((refused as Error).message).toContain('web 1.0 → 2.0, worker 1.0 added, running');
    expect((refused as Error).message).toContain('abortRollout');
    // Nothing was written by the refusal.
    expect((await desired.getDesired('prod')).revision).toBe(r.targetRevision);
  });

  it('rolls back during a rollout only when asked to abort it, in one new revision', async () => {
    const { db, desired, rollouts, ids } = await setup();
    const r = await rollouts.start(alice, 'prod', { set: { web: '2.0' }, waves: [{ percent: 50 }] });
    const back = await desired.rollback(alice, 'prod', {
      revision: 0,
      comment: 'web 2.0 breaks logins',
      abortRollout: true,
    });
    expect(back).toMatchObject({ revision: 3, versions: {}, comment: 'web 2.0 breaks logins' });
    const aborted = await rollouts.get(r.id);
    expect(aborted.state).toBe('aborted');
    expect(aborted.history.at(-1)?.reason).toBe('aborted by alice to roll back to revision 0');
    for (const id of ids) expect(await assignedRevision(db, 'prod', id)).toBeUndefined();
    expect(await rollouts.list('prod', { active: true })).toEqual([]);
    const audit = await db
      .selectFrom('audit_log')
      .select(['action', 'after_json'])
      .where('action', 'in', ['desired.rollback', 'rollout.aborted'])
      .execute();
    expect(audit.map((a) => a.action).sort()).toEqual(['desired.rollback', 'rollout.aborted']);
    const rollbackEntry = audit.find((a) => a.action === 'desired.rollback');
    expect(JSON.parse(String(rollbackEntry?.after_json))).toMatchObject({
      comment: 'web 2.0 breaks logins',
      revision: 3,
    });
    // Without an active rollout the flag changes nothing.
    expect((await desired.rollback(alice, 'prod', { revision: 1, abortRollout: true })).revision).toBe(4);
  });
});
