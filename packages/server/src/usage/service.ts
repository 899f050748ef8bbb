import type { UsagePoint, UsageQuery, UsageResponse, UsageSeries, UsageSummary } from '@flotilla/protocol';
import type { Kysely } from 'kysely';
import type { AppRegistry } from '../checkin/apps.ts';
import { formatDuration, parseDuration } from '../config/duration.ts';
import type { Tables } from '../db/tables.ts';
import { Invalid } from '../errors.ts';
import { readRollups } from './store.ts';

const maxBuckets = 5000;
const defaultRangeMs = 7 * 86_400_000;

export function createUsageService(deps: { db: Kysely<Tables>; apps: AppRegistry; now?: () => number }) {
  const now = deps.now ?? Date.now;

  /** Instance series for one app, re-bucketed from the per-period rollups. */
  async function usage(appName: string, query: UsageQuery): Promise<UsageResponse> {
    const app = deps.apps.get(appName);
    const base = app.config.queryPeriodMs;
    const groupBy = query.groupBy ?? 'appVersion';
    if (groupBy.startsWith('tag:') && !app.schema.tags.has(groupBy.slice(4))) {
      const known = [...app.schema.tags.keys()].join(', ') || 'none';
      throw new Invalid(`"${groupBy.slice(4)}" is not a tag in the app's request schema (schema'd tags: ${known})`);
    }
    const period = query.period ? parsePeriod(query.period) : base;
    if (period % base !== 0) {
      throw new Invalid(`period ${query.period} must be a multiple of the app's query period ${formatDuration(base)}`);
    }
    const current = now();
    const to = query.to ? parseTime(query.to, 'to') : current;
    const rawFrom = query.from ? parseTime(query.from, 'from') : to - defaultRangeMs;
    if (rawFrom >= to) throw new Invalid('"from" must be before "to"');
    const from = rawFrom - (rawFrom % period);
    if ((to - from) / period > maxBuckets) {
      throw new Invalid(
        `that range holds more than ${maxBuckets} buckets of ${formatDuration(period)}; use a larger period`,
      );
    }
    const rows = await readRollups(deps.db, { app: appName, dimension: groupBy, from, to });
    const bySeries = new Map<string, Map<number, { checkins: number; unique: number }>>();
    for (const row of rows) {
      const bucket = row.periodStart - (row.periodStart % period);
      let series = bySeries.get(row.value);
      if (!series) {
        series = new Map();
        bySeries.set(row.value, series);
      }
      const point = series.get(bucket) ?? { checkins: 0, unique: 0 };
      point.checkins += row.checkins;
      point.unique = Math.max(point.unique, row.uniqueInstances);
      series.set(bucket, point);
    }
    const toPoint = (t: number, p: { checkins: number; unique: number }): UsagePoint => {
      // Each instance checks in once per query period, so average over the periods that have begun.
      const periods = Math.max(1, Math.ceil((Math.min(t + period, current) - t) / base));
      return {
        time: new Date(t).toISOString(),
        checkins: p.checkins,
        instances: Math.round((p.checkins / periods) * 100) / 100,
        uniqueInstances: p.unique,
      };
    };
    if (query.points === 'none' && query.fill === 'true')
      throw new Invalid('"fill" and "points=none" exclude each other');
    const buckets: number[] = [];
    if (query.fill === 'true') for (let t = from; t < to; t += period) buckets.push(t);
    const newest = to - 1 - ((to - 1 - from) % period);
    const series: UsageSeries[] = [...bySeries.entries()]
      .map(([key, points]) => ({
        key,
        checkins: [...points.values()].reduce((sum, p) => sum + p.checkins, 0),
        latest: toPoint(newest, points.get(newest) ?? { checkins: 0, unique: 0 }),
        // Only buckets with check-ins unless the caller asks for the dense series, or for none (tables).
        points:
          query.points === 'none'
            ? []
            : query.fill === 'true'
              ? buckets.map((t) => toPoint(t, points.get(t) ?? { checkins: 0, unique: 0 }))
              : [...points.entries()]
                  .filter(([, p]) => p.checkins > 0)
                  .sort(([a], [b]) => a - b)
                  .map(([t, p]) => toPoint(t, p)),
      }))
      .sort((a, b) => b.checkins - a.checkins || a.key.localeCompare(b.key));
    return {
      app: appName,
      groupBy,
      period: formatDuration(period),
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      summary: await summarize(appName, groupBy, base, to),
      series,
    };
  }

  /**
   * Instances now: each instance checks in once per query period, so the latest period of the range
   * counts them, or, while it is young, the full period before it.
   */
  async function summarize(app: string, groupBy: string, base: number, to: number): Promise<UsageSummary[]> {
    const latest = to - 1 - ((to - 1) % base);
    const rows = await readRollups(deps.db, { app, dimension: groupBy, from: latest - base, to });
    const byKey = new Map<string, UsageSummary>();
    for (const row of rows) {
      const s = byKey.get(row.value) ?? { key: row.value, instances: 0, uniqueInstances: 0 };
      s.instances = Math.max(s.instances, row.checkins);
      s.uniqueInstances = Math.max(s.uniqueInstances, row.uniqueInstances);
      byKey.set(row.value, s);
    }
    return [...byKey.values()]
      .filter((s) => s.instances > 0)
      .sort((a, b) => b.instances - a.instances || a.key.localeCompare(b.key));
  }

  return { usage };
}

function parsePeriod(text: string): number {
  try {
    return parseDuration(text);
  } catch (err) {
    throw new Invalid(`period: ${(err as Error).message}`);
  }
}

function parseTime(text: string, name: string): number {
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new Invalid(`"${name}" must be an RFC 3339 time, got "${text}"`);
  return t;
}
