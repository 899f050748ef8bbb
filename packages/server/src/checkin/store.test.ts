import { describe, expect, it } from 'vitest';
import { allStoreKinds, describeEachStore, useMigratedDatabase } from '../../test/support/databases.ts';
import { readRollups } from '../usage/store.ts';
import { InstanceKeys } from './instance-keys.ts';
import type { CheckinRecord } from './record.ts';
import { appendBatch, chunks, expireRawCheckins, type PendingCheckin } from './store.ts';

const hour = 3_600_000;
const t0 = Date.UTC(2026, 10, 23, 10, 0, 0);

function pending(over: Partial<CheckinRecord>, digest: string | null = null, periodStart = t0): PendingCheckin {
  const record: CheckinRecord = {
    time: periodStart + 1000,
    app: 'demo',
    appVersion: 'v1.0.0',
    countryIsoCode: 'DE',
    country: 'Germany',
    city: 'Berlin',
    tags: {},
    fields: {},
    ...over,
  };
  return { record, periodStart, instanceDigest: digest, rollupTagKeys: ['kubernetesVersion'] };
}

describeEachStore(allStoreKinds)('check-in store on %s', (kind) => {
  const handle = useMigratedDatabase(kind);

  it('stores raw records with their tags and fields', async () => {
    await appendBatch(handle.current.db, [
      pending({ tags: { kubernetesVersion: 'v1.30.1' }, fields: { nodeCount: 3, enabled: true, note: 'x' } }),
    ]);
    const rows = await handle.current.db.selectFrom('checkins').selectAll().execute();
    expect(rows).toHaveLength(1);
    expect(Number(rows[0]?.time)).toBe(t0 + 1000);
    expect(JSON.parse(rows[0]?.tags ?? '')).toEqual({ kubernetesVersion: 'v1.30.1' });
    expect(JSON.parse(rows[0]?.fields ?? '')).toEqual({ nodeCount: 3, enabled: true, note: 'x' });
  });

  it('keeps rollups equal to the records, across batches and periods', async () => {
    await appendBatch(handle.current.db, [
      pending({ appVersion: 'v1.0.0', tags: { kubernetesVersion: 'v1.30' } }),
      pending({ appVersion: 'v1.0.0', countryIsoCode: 'US' }),
      pending({ appVersion: 'v1.1.0' }),
    ]);
    await appendBatch(handle.current.db, [
      pending({ appVersion: 'v1.1.0', tags: { kubernetesVersion: 'v1.30' } }),
      pending({ appVersion: 'v1.1.0' }, null, t0 + hour),
    ]);
    const versions = await readRollups(handle.current.db, {
      app: 'demo',
      dimension: 'appVersion',
      from: t0,
      to: t0 + hour,
    });
    expect(Object.fromEntries(versions.map((r) => [r.value, r.checkins]))).toEqual({ 'v1.0.0': 2, 'v1.1.0': 2 });
    const countries = await readRollups(handle.current.db, {
      app: 'demo',
      dimension: 'country',
      from: t0,
      to: t0 + hour,
    });
    expect(Object.fromEntries(countries.map((r) => [r.value, r.checkins]))).toEqual({ DE: 3, US: 1 });
    const tags = await readRollups(handle.current.db, {
      app: 'demo',
      dimension: 'tag:kubernetesVersion',
      from: t0,
      to: t0 + 2 * hour,
    });
    expect(tags).toEqual([{ periodStart: t0, value: 'v1.30', checkins: 2, uniqueInstances: 0 }]);
    const totals = await readRollups(handle.current.db, {
      app: 'demo',
      dimension: 'total',
      from: t0,
      to: t0 + 2 * hour,
    });
    expect(totals.map((r) => [r.periodStart, r.checkins])).toEqual([
      [t0, 4],
      [t0 + hour, 1],
    ]);
  });

  it('counts each instance once per period, also when it appears twice in one batch', async () => {
    await appendBatch(handle.current.db, [pending({}, 'a'), pending({}, 'a'), pending({}, 'b'), pending({})]);
    await appendBatch(handle.current.db, [pending({}, 'a'), pending({}, 'c'), pending({}, 'a', t0 + hour)]);
    const totals = await readRollups(handle.current.db, {
      app: 'demo',
      dimension: 'total',
      from: t0,
      to: t0 + 2 * hour,
    });
    expect(totals.map((r) => [r.checkins, r.uniqueInstances])).toEqual([
      [6, 3],
      [1, 1],
    ]);
  });

  it('derives the same digest for an id within a period and a different one across periods, then forgets the key', async () => {
    const keys = new InstanceKeys(handle.current.db);
    const a1 = await keys.digest('demo', t0, 'instance-1');
    expect(await keys.digest('demo', t0, 'instance-1')).toBe(a1);
    expect(await new InstanceKeys(handle.current.db).digest('demo', t0, 'instance-1')).toBe(a1);
    expect(await keys.digest('demo', t0, 'instance-2')).not.toBe(a1);
    expect(await keys.digest('demo', t0 + hour, 'instance-1')).not.toBe(a1);
    expect(a1).not.toContain('instance-1');
    await appendBatch(handle.current.db, [pending({}, a1)]);
    expect(await keys.destroyClosed('demo', t0 + hour)).toBe(1);
    expect(await handle.current.db.selectFrom('instance_sightings').selectAll().execute()).toEqual([]);
    const remaining = await handle.current.db.selectFrom('instance_period_keys').select('period_start').execute();
    expect(remaining.map((r) => Number(r.period_start))).toEqual([t0 + hour]);
    // A new key for the old period means an old digest can no longer be recomputed.
    expect(await new InstanceKeys(handle.current.db).digest('demo', t0, 'instance-1')).not.toBe(a1);
  });

  it('expires raw records but keeps the rollups', async () => {
    await appendBatch(handle.current.db, [pending({}), pending({}, null, t0 + hour)]);
    expect(await expireRawCheckins(handle.current.db, 'other', t0 + hour)).toBe(0);
    expect(await expireRawCheckins(handle.current.db, 'demo', t0 + hour)).toBe(1);
    expect(await handle.current.db.selectFrom('checkins').selectAll().execute()).toHaveLength(1);
    const totals = await readRollups(handle.current.db, {
      app: 'demo',
      dimension: 'total',
      from: t0,
      to: t0 + 2 * hour,
    });
    expect(totals.map((r) => r.checkins)).toEqual([1, 1]);
  });
});

describe('chunks', () => {
  it('splits rows into power-of-two parts of at most 256, in order', () => {
    const rows = Array.from({ length: 600 }, (_, i) => i);
    const parts = chunks(rows);
    expect(parts.map((p) => p.length)).toEqual([256, 256, 64, 16, 8]);
    expect(parts.flat()).toEqual(rows);
    expect(chunks([])).toEqual([]);
    expect(chunks([1, 2, 3]).map((p) => p.length)).toEqual([2, 1]);
  });
});
