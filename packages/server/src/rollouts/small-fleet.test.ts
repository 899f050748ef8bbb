import { expect, it } from 'vitest';
import { allStoreKinds, describeEachStore, useMigratedDatabase } from '../../test/support/databases.ts';
import { catalogLookup } from '../desired/catalog-lookup.ts';
import { createInstanceService } from '../desired/instances-service.ts';
import { createDesiredService } from '../desired/service.ts';
import { principal, seedCatalog } from '../desired/testing.test.helper.ts';
import { enrolForTest } from '../identity/testing.test.helper.ts';
import { assignedRevision } from './assignment.ts';
import { createRolloutService } from './service.ts';
import { bucketOf } from './waves.ts';

const alice = principal('alice');
const ids = ['host-0', 'host-1', 'host-2'];
// The worst case for a small fleet: every host falls above 50 %, so only the last wave is its own.
const seed = Array.from({ length: 500 }, (_, i) => `seed-${i}`).find((s) =>
  ids.every((id) => bucketOf(s, id) >= 50),
) as string;

describeEachStore(allStoreKinds)('a staged rollout over a small fleet on %s', (kind) => {
  const handle = useMigratedDatabase(kind);

  it.each([
    [1, [1, 0, 0]],
    [2, [1, 1, 0]],
    [3, [1, 1, 1]],
  ])('with %i instance(s) and waves 10, 50, 100, gives each wave one, never stalls, completes', async (n, sizes) => {
    const db = handle.current.db;
    await seedCatalog(db, { web: ['1.0', '2.0'] });
    const desired = createDesiredService({ db, lookup: catalogLookup });
    const rollouts = createRolloutService({ db, desired });
    const instances = createInstanceService({ db });
    await desired.createEnvironment(alice, { name: 'prod' });
    await desired.editDesired(alice, 'prod', { set: { web: '1.0' } });
    const fleet = ids.slice(0, n);
    const report = (id: string, web: string) =>
      instances.report(
        { environment: 'prod', profile: null },
        { instanceId: id, services: [{ service: 'web', version: web, state: 'running' }] },
      );
    await enrolForTest(db, 'prod', fleet);
    for (const id of fleet) await report(id, '1.0');

    const started = await rollouts.start(alice, 'prod', {
      set: { web: '2.0' },
      waves: [{ percent: 10 }, { percent: 50 }, { percent: 100 }],
      seed,
    });
    expect(started.waves.map((w) => w.instances)).toEqual([1, 0, n - 1]);

    // Each round: the instances served the target update, then the server evaluates.
    const onTarget: number[] = [];
    const served = new Set<string>();
    let state = started.state;
    for (let round = 0; round < 12 && state !== 'completed'; round++) {
      const now = new Set<string>();
      for (const id of fleet) if ((await assignedRevision(db, 'prod', id)) === 2) now.add(id);
      // Monotonic: nobody who was served the target goes back to the base.
      for (const id of served) expect(now.has(id)).toBe(true);
      for (const id of now) {
        if (!served.has(id)) await report(id, '2.0');
        served.add(id);
      }
      if (onTarget.at(-1) !== now.size) onTarget.push(now.size);
      await rollouts.evaluateNow();
      state = (await rollouts.get(started.id)).state;
    }
    const done = await rollouts.get(started.id);
    expect(done.state).toBe('completed');
    expect(done.waves.map((w) => w.instances)).toEqual(sizes);
    // One instance more per wave that had any to take, never all at once.
    expect(onTarget).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    const took = done.history.filter((h) => h.reason?.includes('had no instance of its own'));
    expect(took).toHaveLength(Math.min(n, 2));
  });
});
