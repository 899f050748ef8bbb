import type { UsageResponse } from '@flotilla/protocol';
import { describe, expect, it } from 'vitest';
import { adoptionPercent, newestVersion, periodMs, stackedRows, usageRows } from './usage-math.ts';

const point = (time: string, checkins: number, instances = checkins, uniqueInstances = 0) => ({
  time,
  checkins,
  instances,
  uniqueInstances,
});
const usage: UsageResponse = {
  app: 'demo',
  groupBy: 'appVersion',
  period: '1h',
  from: '2025-01-01T00:00:00.000Z',
  to: '2025-01-01T02:00:00.000Z',
  summary: [],
  // Sparse points, as the API sends them: only buckets with check-ins.
  series: [
    {
      key: 'v1.9.0',
      checkins: 6,
      latest: point('2025-01-01T01:00:00.000Z', 1),
      points: [point('2025-01-01T00:00:00.000Z', 5), point('2025-01-01T01:00:00.000Z', 1)],
    },
    {
      key: 'v1.10.0',
      checkins: 3,
      latest: point('2025-01-01T01:00:00.000Z', 3, 3, 2),
      points: [point('2025-01-01T01:00:00.000Z', 3, 3, 2)],
    },
  ],
};

describe('usage numbers', () => {
  it('takes the newest bucket for instances and sums check-ins over the range', () => {
    expect(usageRows(usage)).toEqual([
      { key: 'v1.10.0', instances: 3, uniqueInstances: 2, checkins: 3 },
      { key: 'v1.9.0', instances: 1, uniqueInstances: 0, checkins: 6 },
    ]);
  });

  it('finds the newest version numerically and its adoption in percent', () => {
    expect(newestVersion([], ['v1.9.0', 'v1.10.0'])).toBe('v1.10.0');
    expect(newestVersion(['v2.0.0'], ['v1.9.0'])).toBe('v2.0.0');
    expect(adoptionPercent(usageRows(usage), 'v1.10.0')).toBe(75);
    expect(adoptionPercent([], 'v1.10.0')).toBeNull();
  });

  it('builds one chart row per bucket with a field per version, zeros where the API sent no point', () => {
    expect(stackedRows(usage, ['v1.9.0', 'v1.10.0'])).toEqual([
      { time: '2025-01-01T00:00:00.000Z', 'v1.9.0': 5, 'v1.10.0': 0 },
      { time: '2025-01-01T01:00:00.000Z', 'v1.9.0': 1, 'v1.10.0': 3 },
    ]);
    const half = { ...usage, period: '30m', series: usage.series.slice(1) };
    expect(stackedRows(half, ['v1.10.0']).map((r) => r['v1.10.0'])).toEqual([0, 0, 3]);
    expect(periodMs('1h30m')).toBe(5_400_000);
    expect(periodMs('24h')).toBe(86_400_000);
  });
});
