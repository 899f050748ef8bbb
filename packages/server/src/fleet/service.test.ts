import type { AgentServiceReport } from '@flotilla/protocol';
import { expect, it } from 'vitest';
import { allStoreKinds, describeEachStore, useMigratedDatabase } from '../../test/support/databases.ts';
import { catalogLookup } from '../desired/catalog-lookup.ts';
import { createInstanceService } from '../desired/instances-service.ts';
import { createDesiredService } from '../desired/service.ts';
import { principal, seedCatalog, seedProfile } from '../desired/testing.test.helper.ts';
import { NotFound } from '../errors.ts';
import { createFleetService } from './service.ts';

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
    const report = (env: string, instanceId: string, services: AgentServiceReport[], profile: string | null = null) =>
      instances.report({ environment: env, profile }, { instanceId, services });
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
