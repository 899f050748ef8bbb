import type { DriftUpstreamStatus } from '@flotilla/protocol';
import type { Kysely } from 'kysely';
import type { Tables } from '../db/tables.ts';
import { ResolutionStore } from './resolution-store.ts';
import type { RateLimit, UpstreamVersion } from './upstreams/types.ts';
import { latestSatisfying } from './versions.ts';

/** Upstreams listed at most (one per distinct upstream in use; far more than trackers name in practice). */
export const maxUpstreams = 5000;

const iso = (ms: number | string | null) => (ms === null ? null : new Date(Number(ms)).toISOString());

/** Fetch status of each upstream the server holds a state for, with the rows compared with it. */
export async function upstreamStatuses(db: Kysely<Tables>, now = Date.now()): Promise<DriftUpstreamStatus[]> {
  const [rows, counts] = await Promise.all([
    db.selectFrom('drift_upstreams').selectAll().orderBy('key').limit(maxUpstreams).execute(),
    new ResolutionStore(db).subjectCounts(),
  ]);
  return rows.map((r) => {
    const versions = r.versions === null ? null : (JSON.parse(r.versions) as UpstreamVersion[]);
    const rate = r.rate_limit === null ? null : (JSON.parse(r.rate_limit) as RateLimit);
    const fetchedAt = r.fetched_at === null ? null : Number(r.fetched_at);
    return {
      key: r.key,
      provider: r.key.slice(0, Math.max(0, r.key.indexOf(':'))),
      subjects: counts.get(r.key) ?? 0,
      versions: versions?.length ?? null,
      latest: versions
        ? latestSatisfying(versions.filter((v) => !v.prerelease).map((v) => v.cycle ?? v.version))
        : null,
      fetchedAt: iso(fetchedAt),
      ageSeconds: fetchedAt === null ? null : Math.max(0, Math.floor((now - fetchedAt) / 1000)),
      error: r.error,
      errorAt: iso(r.error_at),
      failures: Number(r.failures),
      retryAt: iso(r.retry_at),
      rateLimit: rate
        ? {
            ...(rate.limit !== undefined ? { limit: rate.limit } : {}),
            ...(rate.remaining !== undefined ? { remaining: rate.remaining } : {}),
            ...(rate.resetAt !== undefined ? { resetAt: rate.resetAt } : {}),
          }
        : null,
    };
  });
}
