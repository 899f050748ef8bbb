import type { Kysely } from 'kysely';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Tables } from '../db/tables.ts';
import { registerOpvicMetrics } from './metrics-opvic.ts';
import type { RunningVersion } from './store.ts';
import { maxUpstreams } from './upstream-status.ts';
import type { RateLimit } from './upstreams/types.ts';
import { compareVersions, parseVersion } from './versions.ts';

// Drift metrics, computed from the database at scrape (cached a few seconds, so several scrapers and
// replicas cost one set of bounded queries). Labels never hold version lists; the per-place series are
// capped, and what the cap drops is counted.

export interface DriftMetricsOptions {
  db: Kysely<Tables>;
  /** Per-place series at most (each family); the rest are dropped and counted. */
  maxSeries: number;
  /** Also Opvic's metric names, for existing dashboards. */
  opvic: boolean;
  cacheMs?: number;
  now?: () => number;
}

const pendingLabel = 'pending';

export interface PlaceRow {
  environment: string;
  place: string;
  subject: string;
  majors_behind: number | null;
  minors_behind: number | null;
  patches_behind: number | null;
  latest: string | null;
  support_ends_at: number | string | null;
  versions: string;
  upstream: string | null;
  resolution: string | null;
}

export interface Snapshot {
  places: Array<{ environment: string; subject: string; behind: string; n: number }>;
  rows: PlaceRow[];
  dropped: number;
  upstreams: Array<{
    key: string;
    fetched_at: number | string | null;
    error: string | null;
    rate_limit: string | null;
  }>;
  heartbeats: Array<{ place: string; tags: string; at: number }>;
}

const providerOf = (key: string) => key.slice(0, Math.max(0, key.indexOf(':')));

function oldest(versions: RunningVersion[]): string {
  let best: string | undefined;
  for (const v of versions) {
    const parsed = parseVersion(v.runningVersion);
    if (parsed && (best === undefined || compareVersions(parsed, best) < 0)) best = v.runningVersion;
  }
  return best ?? versions[0]?.runningVersion ?? '';
}

/** Registers the drift metrics in `registry`; returns the counter the resolver feeds. */
export function registerDriftMetrics(registry: Registry, opts: DriftMetricsOptions) {
  const now = opts.now ?? Date.now;
  const cacheMs = opts.cacheMs ?? 15_000;
  let cached: { at: number; value: Promise<Snapshot> } | undefined;

  async function load(): Promise<Snapshot> {
    const db = opts.db;
    const places = await db
      .selectFrom('drift_subjects')
      .select(['environment', 'subject', 'behind', (eb) => eb.fn.countAll<number | string>().as('n')])
      .groupBy(['environment', 'subject', 'behind'])
      .orderBy('environment')
      .orderBy('subject')
      .limit(opts.maxSeries)
      .execute();
    const rows = (await db
      .selectFrom('drift_subjects')
      .select([
        'environment',
        'place',
        'subject',
        'majors_behind',
        'minors_behind',
        'patches_behind',
        'latest',
        'support_ends_at',
        'versions',
        'upstream',
        ...(opts.opvic ? (['resolution'] as const) : []),
      ])
      .where('resolved_at', 'is not', null)
      .orderBy('environment')
      .orderBy('place')
      .orderBy('subject')
      .limit(opts.maxSeries)
      .execute()) as PlaceRow[];
    const total = await db
      .selectFrom('drift_subjects')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('resolved_at', 'is not', null)
      .executeTakeFirstOrThrow();
    const upstreams = await db
      .selectFrom('drift_upstreams')
      .select(['key', 'fetched_at', 'error', 'rate_limit'])
      .orderBy('key')
      .limit(maxUpstreams)
      .execute();
    const heartbeats = opts.opvic
      ? (
          await db
            .selectFrom('drift_subjects')
            .select(['place', (eb) => eb.fn.min('tags').as('tags'), (eb) => eb.fn.max('reported_at').as('at')])
            .groupBy('place')
            .orderBy('place')
            .limit(opts.maxSeries)
            .execute()
        ).map((h) => ({ place: h.place, tags: String(h.tags), at: Number(h.at) }))
      : [];
    return {
      places: places.map((p) => ({ ...p, behind: p.behind ?? pendingLabel, n: Number(p.n) })),
      rows,
      dropped: Math.max(0, Number(total.n) - rows.length),
      upstreams,
      heartbeats,
    };
  }

  const snapshot = (): Promise<Snapshot> => {
    if (!cached || now() - cached.at >= cacheMs) {
      const value = load();
      cached = { at: now(), value };
      // A failed load is not kept: the next scrape tries again.
      value.catch(() => {
        if (cached?.value === value) cached = undefined;
      });
    }
    return cached.value;
  };

  const gauge = <L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    fill: (g: Gauge<L>, s: Snapshot) => void,
  ): Gauge<L> => {
    const existing = registry.getSingleMetric(name);
    if (existing) registry.removeSingleMetric(name);
    return new Gauge<L>({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        const s = await snapshot();
        this.reset();
        fill(this, s);
      },
    });
  };

  const placeKey = ['environment', 'place', 'subject'] as const;
  gauge(
    'flotilla_drift_places',
    'Places (clusters, hosts) reporting each subject, by how far behind its oldest running version is (pending: not compared yet)',
    ['environment', 'subject', 'behind'],
    (g, s) => {
      for (const p of s.places) g.set({ environment: p.environment, subject: p.subject, behind: p.behind }, p.n);
    },
  );
  for (const [field, what] of [
    ['majors_behind', 'Newer major versions'],
    ['minors_behind', 'Newer minor versions within the running major'],
    ['patches_behind', 'Newer releases within the running major.minor'],
  ] as const) {
    gauge(`flotilla_drift_${field}`, `${what} than the oldest version a place runs`, placeKey, (g, s) => {
      for (const r of s.rows) {
        const value = r[field];
        if (value !== null) g.set({ environment: r.environment, place: r.place, subject: r.subject }, Number(value));
      }
    });
  }
  gauge(
    'flotilla_drift_version_info',
    'The oldest version each place runs and the latest upstream version passing the constraint (value 1)',
    [...placeKey, 'running_version', 'latest_version'],
    (g, s) => {
      for (const r of s.rows) {
        const running = oldest(JSON.parse(r.versions) as RunningVersion[]);
        g.set(
          {
            environment: r.environment,
            place: r.place,
            subject: r.subject,
            running_version: running,
            latest_version: r.latest ?? '',
          },
          1,
        );
      }
    },
  );
  gauge(
    'flotilla_drift_support_ends_timestamp_seconds',
    "When support of the running version's cycle ends (endoflife.date), as a Unix time",
    placeKey,
    (g, s) => {
      for (const r of s.rows) {
        if (r.support_ends_at !== null)
          g.set({ environment: r.environment, place: r.place, subject: r.subject }, Number(r.support_ends_at) / 1000);
      }
    },
  );
  gauge(
    'flotilla_drift_series_dropped',
    'Compared (place, subject) rows left out of the per-place series by --drift-metrics-max-series',
    [],
    (g, s) => g.set(s.dropped),
  );
  const perProvider = (
    s: Snapshot,
    pick: (u: Snapshot['upstreams'][number]) => number | undefined,
    combine: (a: number, b: number) => number,
  ) => {
    const out = new Map<string, number>();
    for (const u of s.upstreams) {
      const value = pick(u);
      if (value === undefined) continue;
      const p = providerOf(u.key);
      const prev = out.get(p);
      out.set(p, prev === undefined ? value : combine(prev, value));
    }
    return out;
  };
  const remaining = (u: { rate_limit: string | null }) =>
    u.rate_limit === null ? undefined : (JSON.parse(u.rate_limit) as RateLimit).remaining;
  gauge(
    'flotilla_drift_upstream_quota_remaining',
    'Requests left in the upstream quota (the lowest seen per provider)',
    ['provider'],
    (g, s) => {
      for (const [provider, value] of perProvider(s, remaining, Math.min)) g.set({ provider }, value);
    },
  );
  gauge(
    'flotilla_drift_upstream_last_fetch_age_seconds',
    'Age of the oldest upstream list per provider (since it was last fetched or confirmed)',
    ['provider'],
    (g, s) => {
      const age = (u: Snapshot['upstreams'][number]) =>
        u.fetched_at === null ? undefined : Math.max(0, (now() - Number(u.fetched_at)) / 1000);
      for (const [provider, value] of perProvider(s, age, Math.max)) g.set({ provider }, value);
    },
  );
  gauge('flotilla_drift_upstreams_failing', 'Upstreams whose last fetch failed, per provider', ['provider'], (g, s) => {
    for (const [provider, value] of perProvider(
      s,
      (u) => (u.error === null ? 0 : 1),
      (a, b) => a + b,
    ))
      g.set({ provider }, value);
  });
  if (opts.opvic) registerOpvicMetrics(gauge, remaining);

  const fetchesName = 'flotilla_drift_upstream_fetches_total';
  const previous = registry.getSingleMetric(fetchesName);
  if (previous) registry.removeSingleMetric(fetchesName);
  const fetches = new Counter({
    name: fetchesName,
    help: 'Upstream requests by provider and result (ok, not_modified, or the error kind)',
    labelNames: ['provider', 'result'] as const,
    registers: [registry],
  });
  return { fetches, snapshot };
}
