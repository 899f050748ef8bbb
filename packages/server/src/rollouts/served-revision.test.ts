// Agents refuse a desired revision older than one they applied, so the revision served to each
// instance must never go down, whatever a rollout does.
import { expect, it } from 'vitest';
import { allStoreKinds, describeEachStore, useMigratedDatabase } from '../../test/support/databases.ts';
import { catalogLookup } from '../desired/catalog-lookup.ts';
import { createInstanceService } from '../desired/instances-service.ts';
import { createDesiredService } from '../desired/service.ts';
import { principal, seedCatalog } from '../desired/testing.test.helper.ts';
import { createRolloutService } from './service.ts';

const alice = principal('alice');

describeEachStore(allStoreKinds)('the revision served to an instance on %s', (kind) => {
  const handle = useMigratedDatabase(kind);
  const setup = async (labelsOf: (i: number) => Record<string, string> = () => ({})) => {
    const db = handle.current.db;
    await seedCatalog(db, { web: ['1.0', '2.0'] });
    const desired = createDesiredService({ db, lookup: catalogLookup });
    const rollouts = createRolloutService({ db, desired });
    const instances = createInstanceService({ db });
    await desired.createEnvironment(alice, { name: 'prod' });
    await desired.editDesired(alice, 'prod', { set: { web: '1.0' } });
    const ids = Array.from({ length: 12 }, (_, i) => `host-${i}`);
    const report = (id: string, labels: Record<string, string>) =>
      instances.report(
        { environment: 'prod', profile: null },
        { instanceId: id, labels, services: [{ service: 'web', version: '1.0', state: 'running' }] },
      );
    for (const [i, id] of ids.entries()) await report(id, labelsOf(i));
    const highest = new Map<string, number>();
    /** What each instance is served now, asserting it is not below what it was served before. */
    const serve = async () => {
      const now = new Map<string, number>();
      for (const id of ids) {
        const revision = (await desired.agentRevision('prod', id)) as number;
        expect(revision, id).toBeGreaterThanOrEqual(highest.get(id) ?? 0);
        highest.set(id, revision);
        now.set(id, revision);
      }
      return now;
    };
    return { desired, rollouts, ids, report, serve };
  };

  it('a rollout abort never serves a lower revision', async () => {
    const { rollouts, serve } = await setup();
    expect(new Set((await serve()).values())).toEqual(new Set([1]));
    const r = await rollouts.start(alice, 'prod', { set: { web: '2.0' }, waves: [{ percent: 50 }], seed: 'mixed' });
    const during = await serve();
    // Some instances are served the target (2), the others the base (1).
    expect(new Set(during.values())).toEqual(new Set([1, 2]));
    await rollouts.act(alice, r.id, 'abort');
    // The abort is a new revision (3) equal to the base: above the target, for everyone.
    expect(new Set((await serve()).values())).toEqual(new Set([3]));
  });

  it('a rollback that aborts the rollout serves a new, higher revision to every instance', async () => {
    const { desired, rollouts, serve } = await setup();
    await rollouts.start(alice, 'prod', { set: { web: '2.0' }, waves: [{ percent: 50 }], seed: 'mixed' });
    await serve();
    const back = await desired.rollback(alice, 'prod', { revision: 1, abortRollout: true });
    expect(back.revision).toBe(3);
    expect(new Set((await serve()).values())).toEqual(new Set([3]));
  });

  it('an instance served the target by a selector wave keeps it when its labels change', async () => {
    const { rollouts, ids, report, serve } = await setup(
      (i): Record<string, string> => (i < 3 ? { ring: 'canary' } : {}),
    );
    await rollouts.start(alice, 'prod', { set: { web: '2.0' }, waves: [{ selector: { ring: 'canary' } }] });
    const during = await serve();
    expect(ids.filter((id) => during.get(id) === 2)).toEqual(ids.slice(0, 3));
    // host-0 leaves the canary ring: it stays on the target it was served (serve() asserts it).
    await report('host-0', {});
    expect((await serve()).get('host-0')).toBe(2);
    // One that joins the ring later moves up, which is allowed.
    await report('host-5', { ring: 'canary' });
    expect((await serve()).get('host-5')).toBe(2);
  });
});
