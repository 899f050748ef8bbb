import type { UsageResponse, UsageSeries } from '@flotilla/protocol';

/** One row of a usage table: a series' numbers as the API gives them. */
export interface UsageRow {
  key: string;
  /** Estimated instances in the newest bucket. */
  instances: number;
  /** Distinct instance ids in the newest bucket; 0 when clients send none. */
  uniqueInstances: number;
  /** Check-ins summed over the whole range. */
  checkins: number;
}

const latest = (s: UsageSeries) => s.points.at(-1);

/** Rows sorted by instances in the newest bucket, then by check-ins over the range. */
export function usageRows(usage: UsageResponse): UsageRow[] {
  return usage.series
    .map((s) => ({
      key: s.key,
      instances: latest(s)?.instances ?? 0,
      uniqueInstances: latest(s)?.uniqueInstances ?? 0,
      checkins: s.points.reduce((sum, p) => sum + p.checkins, 0),
    }))
    .sort((a, b) => b.instances - a.instances || b.checkins - a.checkins || a.key.localeCompare(b.key));
}

export function sumInstances(rows: UsageRow[]): number {
  return Math.round(rows.reduce((sum, r) => sum + r.instances, 0) * 100) / 100;
}

/** Compares version names numerically part by part (v1.10.0 after v1.9.2). */
export function compareVersions(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true, sensitivity: 'base' });
}

/** The app's newest version: the first it serves, else the highest name seen in the data. */
export function newestVersion(served: readonly string[], seen: readonly string[]): string | undefined {
  if (served.length > 0) return served[0];
  return [...seen].sort(compareVersions).at(-1);
}

/** Percent of the newest bucket's instances that run `version`; null when there are none. */
export function adoptionPercent(rows: UsageRow[], version: string | undefined): number | null {
  const total = sumInstances(rows);
  if (!version || total === 0) return null;
  const on = rows.find((r) => r.key === version)?.instances ?? 0;
  return Math.round((on / total) * 1000) / 10;
}

/** Recharts rows: one per bucket, one numeric field per series key. */
export function stackedRows(usage: UsageResponse, keys: readonly string[]): Record<string, number | string>[] {
  const byKey = new Map(usage.series.map((s) => [s.key, s]));
  const first = usage.series[0];
  if (!first) return [];
  return first.points.map((p, i) => {
    const row: Record<string, number | string> = { time: p.time };
    for (const key of keys) row[key] = byKey.get(key)?.points[i]?.instances ?? 0;
    return row;
  });
}

/** Range choices: how far back the page looks. */
export const ranges: Record<string, number> = {
  '24h': 86_400_000,
  '7d': 7 * 86_400_000,
  '30d': 30 * 86_400_000,
  '90d': 90 * 86_400_000,
};
