import { expect, it } from 'vitest';
import { allStoreKinds, describeEachStore, useMigratedDatabase } from '../../test/support/databases.ts';
import type { AppRegistry } from '../checkin/apps.ts';
import { createUsageService } from './service.ts';

const hour = 3_600_000;
const at = (iso: string) => Date.parse(iso);
// Only what the usage service reads of an app: its query period and schema'd tags.
const apps = {
  get: () => ({ config: { queryPeriodMs: hour }, schema: { tags: new Map() } }),
} as unknown as AppRegistry;

describeEachStore(allStoreKinds)('usage service on %s', (kind) => {
  const handle = useMigratedDatabase(kind);
  const setup = async (now: string) => {
    const rollups = [
      ['v0', '2026-03-09T08:00:00Z', 4, 0],
      ['v1', '2026-03-10T09:00:00Z', 5, 5],
      ['v1', '2026-03-10T10:00:00Z', 2, 2],
      ['v2', '2026-03-10T10:00:00Z', 3, 0],
    ] as const;
    await handle.current.db
      .insertInto('usage_rollups')
      .values(
        rollups.map(([value, start, checkins, unique]) => ({
          app: 'demo',
          dimension: 'appVersion',
          period_start: at(start),
          value,
          checkins,
          unique_instances: unique,
        })),
      )
      .execute();
    return createUsageService({ db: handle.current.db, apps, now: () => at(now) });
  };

  it('sums up instances now per key and lists only the buckets with check-ins', async () => {
    const usage = await setup('2026-03-10T10:30:00Z');
    const res = await usage.usage('demo', {});
    // v1: 5 in the full hour before, 2 so far in this one; v0 checked in a day ago, so it is not "now".
    expect(res.summary).toEqual([
      { key: 'v1', instances: 5, uniqueInstances: 5 },
      { key: 'v2', instances: 3, uniqueInstances: 0 },
    ]);
    expect(res.series.map((s) => [s.key, s.points.map((p) => [p.time, p.checkins, p.instances])])).toEqual([
      [
        'v1',
        [
          ['2026-03-10T09:00:00.000Z', 5, 5],
          ['2026-03-10T10:00:00.000Z', 2, 2],
        ],
      ],
      ['v0', [['2026-03-09T08:00:00.000Z', 4, 4]]],
      ['v2', [['2026-03-10T10:00:00.000Z', 3, 3]]],
    ]);
    expect(JSON.stringify(res).length).toBeLessThan(1000);
  });

  it('fills every bucket of the range with zeros when asked', async () => {
    const usage = await setup('2026-03-10T10:30:00Z');
    const res = await usage.usage('demo', { fill: 'true' });
    // Seven days back from 10:30, aligned to the hour: 03-03 10:00 up to the bucket holding now.
    expect(res.from).toBe('2026-03-03T10:00:00.000Z');
    for (const s of res.series) {
      expect(s.points).toHaveLength(7 * 24 + 1);
      expect(s.points[0]?.time).toBe('2026-03-03T10:00:00.000Z');
      expect(s.points.at(-1)?.time).toBe('2026-03-10T10:00:00.000Z');
    }
    const v1 = res.series.find((s) => s.key === 'v1');
    expect(v1?.points.filter((p) => p.checkins > 0).map((p) => p.checkins)).toEqual([5, 2]);
    expect(res.summary).toEqual((await usage.usage('demo', {})).summary);
  });

  it('gives each series its range total and newest bucket, and leaves the points out when asked', async () => {
    const usage = await setup('2026-03-10T10:30:00Z');
    const bare = await usage.usage('demo', { points: 'none' });
    expect(bare.series.map((s) => [s.key, s.checkins, s.latest, s.points])).toEqual([
      ['v1', 7, { time: '2026-03-10T10:00:00.000Z', checkins: 2, instances: 2, uniqueInstances: 2 }, []],
      ['v0', 4, { time: '2026-03-10T10:00:00.000Z', checkins: 0, instances: 0, uniqueInstances: 0 }, []],
      ['v2', 3, { time: '2026-03-10T10:00:00.000Z', checkins: 3, instances: 3, uniqueInstances: 0 }, []],
    ]);
    // The same numbers as the dense series' last point and sum.
    const dense = await usage.usage('demo', { fill: 'true' });
    for (const s of dense.series) {
      const same = bare.series.find((b) => b.key === s.key);
      expect(same?.latest).toEqual(s.points.at(-1));
      expect(same?.checkins).toBe(s.points.reduce((n, p) => n + p.checkins, 0));
    }
    // Ninety days of hourly buckets: the dense answer is many times the sparse one.
    const from = '2025-12-10T10:00:00Z';
    const sparse = JSON.stringify(await usage.usage('demo', { from }));
    expect(sparse.length).toBeLessThan(2000);
    expect(JSON.stringify(await usage.usage('demo', { from, fill: 'true' })).length).toBeGreaterThan(
      100 * sparse.length,
    );
    await expect(usage.usage('demo', { points: 'none', fill: 'true' })).rejects.toThrow(/exclude each other/);
  });

  it('takes the summary at the end of the range, and re-buckets by a longer period', async () => {
    const usage = await setup('2026-03-10T10:30:00Z');
    const past = await usage.usage('demo', { to: '2026-03-09T11:00:00Z' });
    expect(past.summary).toEqual([]);
    const earlier = await usage.usage('demo', { to: '2026-03-09T09:00:00Z' });
    expect(earlier.summary).toEqual([{ key: 'v0', instances: 4, uniqueInstances: 0 }]);
    const daily = await usage.usage('demo', { period: '1d' });
    expect(daily.period).toBe('24h');
    const v1 = daily.series.find((s) => s.key === 'v1');
    // 7 check-ins over the 10.5 hours of the day so far: 11 query periods have begun.
    expect(v1?.points).toEqual([
      { time: '2026-03-10T00:00:00.000Z', checkins: 7, instances: 0.64, uniqueInstances: 5 },
    ]);
  });
});
