import type { AgentServiceReport } from '@flotilla/protocol';
import { expect, it } from 'vitest';
import { allStoreKinds, describeEachStore, useMigratedDatabase } from '../../test/support/databases.ts';
import { catalogLookup } from '../desired/catalog-lookup.ts';
import { createInstanceService } from '../desired/instances-service.ts';
import { createDesiredService } from '../desired/service.ts';
import { principal, seedCatalog, seedProfile } from '../desired/testing.test.helper.ts';
import { NotFound } from '../errors.ts';
import { type FaultRow, insertFault } from '../faults/store.ts';
import { createRolloutService } from '../rollouts/service.ts';
import { createFleetService } from './service.ts';

let faultSeq = 0;
const faultRow = (f: Partial<FaultRow> & Pick<FaultRow, 'time' | 'instanceId'>): FaultRow => ({
  id: `f-${String(++faultSeq).padStart(4, '0')}`,
  receivedAt: f.time,
  environment: 'prod',
  service: 'web',
  version: '2.0',
  reason: 'exit',
  exitCode: 4,
  signal: null,
  size: 10,
  digest: 'sha256:00',
  files: [],
  state: {},
  logTail: [],
  ...f,
});

describeEachStore(allStoreKinds)('fleet view on %s', (kind) => {
  const handle = useMigratedDatabase(kind);
  let clock = Date.parse('2030-01-01T00:00:00Z');
  const now = () => new Date(clock);
  const admin = principal('admin', 'admin');

  const setup = async () => {
    const db = handle.current.db;
    await seedCatalog(db, { web: ['1.0', '2.0'], api: ['1.0'] });
    const desired = createDesiredService({ db, lookup: catalogLookup, now });
    const instances = createInstanceService({ db, expiryMs: 5 * 60_000, now });
    const fleet = createFleetService({ db, expiryMs: 5 * 60_000, now });
    const report = (
      env: string,
      instanceId: string,
      services: AgentServiceReport[],
      profile: string | null = null,
      labels: Record<string, string> = {},
    ) => instances.report({ environment: env, profile }, { instanceId, services, labels });
    return { db, desired, fleet, report };
  };

  it('computes verdicts and counts per environment and service, alerts first', async () => {
    clock = Date.parse('2030-01-01T00:00:00Z');
    const { desired, fleet, report } = await setup();
    await desired.createEnvironment(admin, { name: 'prod' });
    await desired.createEnvironment(admin, { name: 'test' });
    await desired.createEnvironment(admin, { name: 'empty' });
    await desired.editDesired(admin, 'prod', { set: { web: '2.0', api: '1.0' } });
    await desired.editDesired(admin, 'test', { set: { web: '1.0' } });
    await report('prod', 'gone', [{ service: 'web', version: '2.0', state: 'running' }]);
    clock += 10 * 60_000;
    await report('prod', 'a-ok', [
      { service: 'web', version: '2.0', state: 'running' },
      { service: 'api', version: '1.0', state: 'running' },
    ]);
    await report('prod', 'b-behind', [{ service: 'web', version: '1.0', state: 'running' }]);
    await report('prod', 'c-updating', [{ service: 'web', version: '1.0', targetVersion: '2.0', state: 'updating' }]);
    await report('prod', 'd-failed', [
      { service: 'web', version: '1.0', state: 'running', updateError: 'not healthy: exit code 3' },
    ]);
    await report('prod', 'e-stopped', [{ service: 'web', version: '2.0', state: 'stopped' }]);
    await report('test', 't-1', [{ service: 'web', version: '1.0', state: 'running' }]);

    const view = await fleet.view({});
    expect(view.services.map((s) => `${s.environment}/${s.service}@${s.desiredVersion}`)).toEqual([
      'prod/api@1.0',
      'prod/web@2.0',
      'test/web@1.0',
    ]);
    const web = view.services[1];
    expect(web?.counts).toMatchObject({ ok: 1, stale: 1, behind: 1, updating: 1, failed: 1, stopped: 1 });
    expect(web?.instances.map((i) => [i.instanceId, i.verdict])).toEqual([
      ['b-behind', 'behind'],
      ['c-updating', 'updating'],
      ['d-failed', 'failed'],
      ['e-stopped', 'stopped'],
      ['gone', 'stale'],
      ['a-ok', 'ok'],
    ]);
    expect(web?.instances.find((i) => i.instanceId === 'd-failed')).toMatchObject({
      desiredVersion: '2.0',
      version: '1.0',
      updateError: 'not healthy: exit code 3',
      reason: 'update to 2.0 failed (runs 1.0): not healthy: exit code 3',
    });
    const api = view.services[0];
    expect(api?.counts).toMatchObject({ ok: 1, 'not-reported': 4, stale: 1 });

    const alerts = await fleet.view({ environment: 'prod', service: 'web', alerts: 'true', limit: 2 });
    expect(alerts.services).toHaveLength(1);
    expect(alerts.services[0]?.instances.map((i) => i.instanceId)).toEqual(['b-behind', 'c-updating']);
    expect(alerts.services[0]?.counts.ok).toBe(1);
    expect((await fleet.view({ environment: 'empty' })).services).toEqual([]);
    await expect(fleet.view({ environment: 'nope' })).rejects.toBeInstanceOf(NotFound);
  });

  it('leaves out instances whose profile does not hold the service', async () => {
    clock = Date.parse('2030-01-01T00:00:00Z');
    const { db, desired, fleet, report } = await setup();
    await seedProfile(db, 'edge', ['web']);
    await desired.createEnvironment(admin, { name: 'prod' });
    await desired.editDesired(admin, 'prod', { set: { web: '2.0', api: '1.0' } });
    await report('prod', 'edge-1', [{ service: 'web', version: '2.0', state: 'running' }], 'edge');
    await report('prod', 'full-1', [{ service: 'web', version: '2.0', state: 'running' }]);
    const view = await fleet.view({ environment: 'prod' });
    const api = view.services.find((s) => s.service === 'api');
    expect(api?.instances.map((i) => i.instanceId)).toEqual(['full-1']);
    expect(api?.counts['not-reported']).toBe(1);
    const web = view.services.find((s) => s.service === 'web');
    expect(web?.counts.ok).toBe(2);
  });
});

describeEachStore(allStoreKinds)('fleet crash loops and rollouts on %s', (kind) => {
  const handle = useMigratedDatabase(kind);
  const start = Date.parse('2030-01-01T00:00:00Z');
  let clock = start;
  const now = () => new Date(clock);
  const admin = principal('admin', 'admin');

  const setup = async () => {
    const db = handle.current.db;
    await seedCatalog(db, { web: ['0.9', '1.0', '2.0'], api: ['1.0'] });
    const desired = createDesiredService({ db, lookup: catalogLookup, now });
    const instances = createInstanceService({ db, expiryMs: 60 * 60_000, now });
    const fleet = createFleetService({ db, expiryMs: 60 * 60_000, now });
    await desired.createEnvironment(admin, { name: 'prod' });
    await desired.createEnvironment(admin, { name: 'test' });
    const report = (env: string, instanceId: string, web: string, labels: Record<string, string> = {}) =>
      instances.report(
        { environment: env, profile: null },
        { instanceId, labels, services: [{ service: 'web', version: web, state: 'running', failureCount: 0 }] },
      );
    return { db, desired, fleet, report };
  };

  it('counts faults in the last 10 minutes per instance and service, in one view', async () => {
    clock = start;
    const { db, desired, fleet, report } = await setup();
    await desired.editDesired(admin, 'prod', { set: { web: '2.0', api: '1.0' } });
    for (const id of ['loop', 'old', 'rolled', 'other-service', 'two']) await report('prod', id, '2.0');
    clock = start + 60 * 60_000;
    const minutesAgo = (m: number) => clock - m * 60_000;
    // 8 exits in 10 minutes of the desired version: the case that used to show `ok`.
    for (let m = 9; m >= 2; m--) await insertFault(db, faultRow({ instanceId: 'loop', time: minutesAgo(m) }));
    const newest = faultRow({ instanceId: 'loop', time: minutesAgo(1), exitCode: null, signal: 'SIGSEGV' });
    await insertFault(db, newest);
    // Outside the window, not restarts, another service, another environment, or too few.
    for (const m of [11, 20, 30]) await insertFault(db, faultRow({ instanceId: 'old', time: minutesAgo(m) }));
    for (const m of [1, 2, 3])
      await insertFault(db, faultRow({ instanceId: 'rolled', time: minutesAgo(m), reason: 'update-rolled-back' }));
    for (const m of [1, 2, 3])
      await insertFault(db, faultRow({ instanceId: 'other-service', time: minutesAgo(m), service: 'api' }));
    for (const m of [1, 2, 3])
      await insertFault(db, faultRow({ instanceId: 'two', time: minutesAgo(m), environment: 'test' }));
    for (const m of [1, 2]) await insertFault(db, faultRow({ instanceId: 'two', time: minutesAgo(m) }));

    const web = (await fleet.view({ environment: 'prod', service: 'web' })).services[0];
    const byId = Object.fromEntries((web?.instances ?? []).map((i) => [i.instanceId, i]));
    expect(web?.counts).toMatchObject({ 'crash-looping': 1, ok: 4 });
    expect(byId.loop).toMatchObject({
      verdict: 'crash-looping',
      reason: 'web 2.0 crashed 9 times in the last 10 minutes; last: killed by signal SIGSEGV',
      recentFaults: 9,
      lastFault: {
        id: newest.id,
        time: new Date(newest.time).toISOString(),
        version: '2.0',
        reason: 'exit',
        exitCode: null,
        signal: 'SIGSEGV',
      },
    });
    expect(byId.old).toMatchObject({ verdict: 'ok', recentFaults: 0, lastFault: null });
    expect(byId.rolled).toMatchObject({ verdict: 'ok', recentFaults: 0 });
    expect(byId['other-service']).toMatchObject({ verdict: 'ok', recentFaults: 0 });
    expect(byId.two).toMatchObject({ verdict: 'ok', recentFaults: 2 });
    expect(byId.two?.lastFault?.time).toBe(new Date(minutesAgo(1)).toISOString());
    expect(web?.instances[0]?.instanceId).toBe('loop');
    const api = (await fleet.view({ environment: 'prod', service: 'api' })).services[0];
    expect(api?.instances.find((i) => i.instanceId === 'other-service')).toMatchObject({
      verdict: 'not-reported',
      recentFaults: 3,
    });

    // One instance: its environment's services, the same verdicts.
    const one = await fleet.view({ instance: 'loop' });
    expect(one.services.map((s) => [s.environment, s.service, s.instances.map((i) => i.verdict)])).toEqual([
      ['prod', 'api', ['not-reported']],
      ['prod', 'web', ['crash-looping']],
    ]);
    expect((await fleet.view({ instance: 'loop', environment: 'test' })).services).toEqual([]);
    await expect(fleet.view({ instance: 'nobody' })).rejects.toBeInstanceOf(NotFound);

    // Ten minutes on, the loop has stopped: the verdict follows.
    clock += 10 * 60_000;
    await report('prod', 'loop', '2.0');
    const later = (await fleet.view({ environment: 'prod', service: 'web' })).services[0];
    expect(later?.instances.find((i) => i.instanceId === 'loop')).toMatchObject({ verdict: 'ok', recentFaults: 0 });
  });

  it('during a staged rollout: runs-against-served first, waiting instances are calm and not alerts', async () => {
    clock = start;
    const { db, desired, fleet, report } = await setup();
    const rollouts = createRolloutService({ db, desired });
    await desired.editDesired(admin, 'prod', { set: { web: '1.0' } });
    await report('prod', 'c-new', '2.0', { ring: 'canary' });
    await report('prod', 'm-old', '0.9', { ring: 'main' });
    await report('prod', 'm-wait', '1.0', { ring: 'main' });
    await rollouts.start(admin, 'prod', {
      set: { web: '2.0' },
      waves: [{ selector: { ring: 'canary' } }, { percent: 100 }],
      requireApproval: true,
    });
    const web = (await fleet.view({ environment: 'prod' })).services[0];
    expect(web?.desiredVersion).toBe('2.0');
    expect(web?.instances.map((i) => [i.instanceId, i.verdict, i.desiredVersion])).toEqual([
      ['m-old', 'behind', '1.0'],
      ['m-wait', 'not-desired-yet', '1.0'],
      ['c-new', 'ok', '2.0'],
    ]);
    expect(web?.instances[0]?.reason).toBe('runs 0.9 while 1.0 is desired, and no update is under way');
    const alerts = (await fleet.view({ environment: 'prod', alerts: 'true' })).services[0];
    expect(alerts?.instances.map((i) => i.instanceId)).toEqual(['m-old']);
    expect(alerts?.counts).toMatchObject({ ok: 1, 'not-desired-yet': 1, behind: 1 });
  });
});
