import { expect, it } from 'vitest';
import { allStoreKinds, describeEachStore, useMigratedDatabase } from '../../test/support/databases.ts';
import { Forbidden, NotFound } from '../errors.ts';
import { createInstanceService } from './instances-service.ts';
import { expireInstances, touchUnchangedReports } from './instances-store.ts';

describeEachStore(allStoreKinds)('instances on %s', (kind) => {
  const handle = useMigratedDatabase(kind);
  let clock = Date.parse('2030-01-01T00:00:00Z');
  const make = () => createInstanceService({ db: handle.current.db, expiryMs: 5 * 60_000, now: () => new Date(clock) });
  const prod = { environment: 'prod', profile: null };

  it('upserts an instance and replaces its services with each report', async () => {
    clock = Date.parse('2030-01-01T00:00:00Z');
    const instances = make();
    await instances.report(prod, {
      instanceId: 'host-1',
      labels: { region: 'eu' },
      services: [
        { service: 'web', version: '1.0', state: 'running', failureCount: 2, lastExitCode: 1 },
        { service: 'api', version: '2.0', targetVersion: '2.1', state: 'updating' },
      ],
    });
    clock += 60_000;
    await instances.report(
      { environment: 'prod', profile: 'edge' },
      {
        instanceId: 'host-1',
        services: [{ service: 'web', version: '1.1', state: 'failed', updateError: 'exit 3' }],
      },
    );
    const one = await instances.get('host-1');
    expect(one).toMatchObject({
      instanceId: 'host-1',
      environment: 'prod',
      profile: 'edge',
      labels: {},
      firstSeenAt: '2030-01-01T00:00:00.000Z',
      lastSeenAt: '2030-01-01T00:01:00.000Z',
      stale: false,
    });
    expect(one.services).toEqual([
      expect.objectContaining({
        service: 'web',
        version: '1.1',
        state: 'failed',
        updateError: 'exit 3',
        failureCount: 0,
      }),
    ]);
    await expect(instances.get('nope')).rejects.toBeInstanceOf(NotFound);
  });

  it('takes a repeated report as a sighting only, and a changed one whole, whichever replica stored the last', async () => {
    clock = Date.parse('2030-01-01T00:00:00Z');
    const here = make();
    const report = {
      instanceId: 'host-r',
      labels: { b: '2', a: '1' },
      services: [{ service: 'web', version: '1.0', state: 'running' as const }],
    };
    await here.report(prod, report);
    clock += 30_000;
    // The same content, labels in another order: only the sighting moves.
    await here.report(prod, { ...report, labels: { a: '1', b: '2' } });
    let one = await here.get('host-r');
    expect(one.lastSeenAt).toBe('2030-01-01T00:00:30.000Z');
    expect(one.services[0]?.updatedAt).toBe('2030-01-01T00:00:00.000Z');
    // Another replica (another service on the same store) stores a change; the old report again is
    // then a change against the stored digest, and is stored whole.
    clock += 30_000;
    await make().report(prod, { ...report, services: [{ service: 'web', version: '1.1', state: 'running' }] });
    clock += 30_000;
    await here.report(prod, report);
    one = await here.get('host-r');
    expect(one.services[0]).toMatchObject({ version: '1.0', updatedAt: '2030-01-01T00:01:30.000Z' });
    expect(one.lastSeenAt).toBe('2030-01-01T00:01:30.000Z');
    // A repeat under another profile is a change too.
    await here.report({ environment: 'prod', profile: 'edge' }, report);
    expect((await here.get('host-r')).profile).toBe('edge');
  });

  it('moves the sightings of many repeated reports in one statement, and only of those that match', async () => {
    const instances = make();
    for (const id of ['a', 'b']) await instances.report(prod, { instanceId: id, services: [] });
    const stored = await handle.current.db.selectFrom('instances').select(['instance_id', 'report_digest']).execute();
    const digestOf = (id: string) => stored.find((r) => r.instance_id === id)?.report_digest as string;
    const at = '2031-01-01T00:00:00.000Z';
    const touched = await touchUnchangedReports(handle.current.db, [
      { instanceId: 'a', environment: 'prod', digest: digestOf('a'), at },
      { instanceId: 'a', environment: 'prod', digest: 'another', at },
      { instanceId: 'b', environment: 'test', digest: digestOf('b'), at },
      { instanceId: 'b', environment: 'prod', digest: digestOf('b'), at },
      { instanceId: 'c', environment: 'prod', digest: digestOf('b'), at },
    ]);
    expect(touched).toEqual([true, false, false, true, false]);
    expect((await instances.get('a')).lastSeenAt).toBe(at);
  });

  it('stores changed reports arriving together, refusing only the one of another environment', async () => {
    const instances = make();
    await instances.report(prod, { instanceId: 'x', services: [] });
    const results = await Promise.allSettled([
      instances.report(prod, { instanceId: 'p1', services: [{ service: 'web', version: '1' }] }),
      instances.report({ environment: 'test', profile: null }, { instanceId: 'x', services: [] }),
      instances.report(prod, { instanceId: 'p2', labels: { a: 'b' }, services: [] }),
      instances.report(prod, { instanceId: 'p3', labels: { c: 'd' }, services: [{ service: 'api', version: '2' }] }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(Forbidden);
    expect((await instances.get('p2')).labels).toEqual({ a: 'b' });
    expect((await instances.get('p3')).services.map((s) => s.service)).toEqual(['api']);
    expect((await instances.get('x')).environment).toBe('prod');
  });

  it('refuses a report for an instance of another environment', async () => {
    const instances = make();
    await instances.report(prod, { instanceId: 'h', services: [] });
    await expect(
      instances.report({ environment: 'test', profile: null }, { instanceId: 'h', services: [] }),
    ).rejects.toBeInstanceOf(Forbidden);
    await expect(
      instances.report(prod, { instanceId: 'h', services: [{ service: 'a' }, { service: 'a' }] }),
    ).rejects.toThrow(/twice/);
  });

  it('filters by environment, service, label and staleness, and pages with a cursor', async () => {
    clock = Date.parse('2030-01-01T00:00:00Z');
    const instances = make();
    await instances.report(prod, { instanceId: 'a', labels: { region: 'eu' }, services: [{ service: 'web' }] });
    await instances.report(prod, { instanceId: 'b', labels: { region: 'us' }, services: [{ service: 'api' }] });
    clock += 10 * 60_000;
    await instances.report({ environment: 'test', profile: null }, { instanceId: 'c', services: [{ service: 'web' }] });
    const ids = async (q: Parameters<typeof instances.list>[0]) =>
      (await instances.list(q)).instances.map((i) => i.instanceId);
    expect(await ids({})).toEqual(['a', 'b', 'c']);
    expect(await ids({ environment: 'prod' })).toEqual(['a', 'b']);
    expect(await ids({ service: 'web' })).toEqual(['a', 'c']);
    expect(await ids({ label: 'region=us' })).toEqual(['b']);
    expect(await ids({ stale: 'true' })).toEqual(['a', 'b']);
    expect(await ids({ stale: 'false' })).toEqual(['c']);
    const first = await instances.list({ limit: 2 });
    expect(first.instances.map((i) => i.stale)).toEqual([true, true]);
    expect(first.nextCursor).not.toBeNull();
    expect(await ids({ limit: 2, cursor: first.nextCursor as string })).toEqual(['c']);
  });

  it('expires instances silent since a cutoff, with their services and labels', async () => {
    clock = Date.parse('2030-01-01T00:00:00Z');
    const instances = make();
    await instances.report(prod, { instanceId: 'old', labels: { k: 'v' }, services: [{ service: 'web' }] });
    clock += 31 * 86_400_000;
    await instances.report(prod, { instanceId: 'new', services: [{ service: 'web' }] });
    expect(await instances.expire()).toBe(1);
    expect((await instances.list({})).instances.map((i) => i.instanceId)).toEqual(['new']);
    const db = handle.current.db;
    expect(await db.selectFrom('instance_services').select('instance_id').execute()).toEqual([{ instance_id: 'new' }]);
    expect(await db.selectFrom('instance_labels').select('instance_id').execute()).toEqual([]);
    expect(await expireInstances(db, new Date(clock + 1))).toBe(1);
    expect((await instances.list({})).instances).toEqual([]);
  });
});
