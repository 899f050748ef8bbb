import pino from 'pino';
import { expect, it } from 'vitest';
import { allStoreKinds, describeEachStore, useMigratedDatabase } from '../test/support/databases.ts';
import type { AppRegistry } from './checkin/apps.ts';
import { InstanceKeys } from './checkin/instance-keys.ts';
import { appendBatch } from './checkin/store.ts';
import { keyGraceMs, startMaintenance } from './maintenance.ts';

const hour = 3_600_000;
const t0 = Date.UTC(2026, 10, 23, 10, 0, 0);
const apps = { list: () => [{ config: { name: 'demo', queryPeriodMs: hour } }] } as unknown as AppRegistry;

describeEachStore(allStoreKinds)('maintenance on %s', (kind) => {
  const handle = useMigratedDatabase(kind);

  const keyPeriods = async () =>
    (
      await handle.current.db
        .selectFrom('instance_period_keys')
        .select('period_start')
        .orderBy('period_start')
        .execute()
    ).map((r) => Number(r.period_start));

  it('keeps the last period’s key through the grace time, then destroys it', async () => {
    const keys = new InstanceKeys(handle.current.db);
    await keys.digest('demo', t0 - hour, 'x');
    await keys.digest('demo', t0, 'x');
    let now = t0 + keyGraceMs - 1000;
    const m = startMaintenance({
      db: handle.current.db,
      apps,
      instanceKeys: keys,
      rawRetentionMs: 86_400_000,
      logger: pino({ level: 'silent' }),
      now: () => now,
      intervalMs: 3_600_000,
    });
    await m.stop();
    await m.runOnce();
    expect(await keyPeriods()).toEqual([t0 - hour, t0]);
    now = t0 + keyGraceMs + 1000;
    await m.runOnce();
    expect(await keyPeriods()).toEqual([t0]);
  });

  it('on a replica that does not lead: forgets closed keys held in memory, and deletes no row', async () => {
    const onLeader = new InstanceKeys(handle.current.db);
    const onOther = new InstanceKeys(handle.current.db);
    const before = await onOther.digest('demo', t0 - hour, 'x');
    const maintain = (instanceKeys: InstanceKeys, leads: boolean) =>
      startMaintenance({
        isLeader: () => leads,
        db: handle.current.db,
        apps,
        instanceKeys,
        rawRetentionMs: 86_400_000,
        logger: pino({ level: 'silent' }),
        now: () => t0 + keyGraceMs + 1000,
        intervalMs: 3_600_000,
      });
    const other = maintain(onOther, false);
    await other.stop();
    expect(await keyPeriods()).toEqual([t0 - hour]);
    const leader = maintain(onLeader, true);
    await leader.stop();
    expect(await keyPeriods()).toEqual([]);
    // The destroyed key is not used again: a digest in that period now needs a new one.
    expect(await onOther.digest('demo', t0 - hour, 'x')).not.toEqual(before);
  });

  it('expires raw check-ins past the retention', async () => {
    const record = (time: number) => ({
      record: { time, app: 'demo', appVersion: 'v1', countryIsoCode: '', country: '', city: '', tags: {}, fields: {} },
      periodStart: time - (time % hour),
      instanceDigest: null,
      rollupTagKeys: [],
    });
    await appendBatch(handle.current.db, [record(t0 - 2 * 86_400_000), record(t0 - 1000)]);
    const m = startMaintenance({
      db: handle.current.db,
      apps,
      instanceKeys: new InstanceKeys(handle.current.db),
      rawRetentionMs: 86_400_000,
      logger: pino({ level: 'silent' }),
      now: () => t0,
      intervalMs: 3_600_000,
    });
    await m.stop();
    await m.runOnce();
    const left = await handle.current.db.selectFrom('checkins').select('time').execute();
    expect(left.map((r) => Number(r.time))).toEqual([t0 - 1000]);
  });
});
