import type { UsageResponse } from '@flotilla/protocol';

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

/** Rows sorted by instances in the newest bucket, then by check-ins over the range. */
export function usageRows(usage: UsageResponse): UsageRow[] {
  return usage.series
    .map((s) => ({
      key: s.key,
      instances: s.latest.instances,
      uniqueInstances: s.latest.uniqueInstances,
      checkins: s.checkins,
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

const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };

/** The API's bucket size ("1h", "1h30m", "24h") in milliseconds; 0 when it cannot be read. */
export function periodMs(period: string): number {
  let ms = 0;
  for (const [, n, unit] of period.matchAll(/(\d+)(ms|h|m|s)/g)) ms += Number(n) * (units[unit ?? ''] ?? 0);
  return ms;
}

/**
 * Recharts rows: one per bucket of the range, one numeric field per series key. The API sends only
 * the buckets with check-ins; the empty ones in between are zeros.
 */
export function stackedRows(usage: UsageResponse, keys: readonly string[]): Record<string, number | string>[] {
  const step = periodMs(usage.period);
  const last = usage.series[0]?.latest.time;
  if (!last || step <= 0) return [];
  const values = new Map<string, Map<number, number>>();
  for (const s of usage.series) values.set(s.key, new Map(s.points.map((p) => [Date.parse(p.time), p.instances])));
  const rows: Record<string, number | string>[] = [];
  for (let t = Date.parse(usage.from); t <= Date.parse(last); t += step) {
    const row: Record<string, number | string> = { time: new Date(t).toISOString() };
    for (const key of keys) row[key] = values.get(key)?.get(t) ?? 0;
    rows.push(row);
  }
  return rows;
}

/** Range choices: how far back the page looks. */
export const ranges: Record<string, number> = {
  '24h': 86_400_000,
  '7d': 7 * 86_400_000,
  '30d': 30 * 86_400_000,
  '90d': 90 * 86_400_000,
};
