import type { Kysely } from 'kysely';
import type { Tables } from '../db/tables.ts';
import { Invalid } from '../errors.ts';
import { DriftTooLarge, driftLimits, json } from './limits.ts';
import type { DriftUpstreamsTable } from './tables.ts';
import type { UpstreamState, UpstreamStateStore } from './upstreams/cache.ts';
import type { RateLimit, UpstreamVersion } from './upstreams/types.ts';

const iso = (ms: number | string | null) => (ms === null ? null : new Date(Number(ms)).toISOString());
function ms(value: string | null, field: string): number | null {
  if (value === null) return null;
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new Invalid(`${field}: not a date: ${value}`);
  return t;
}
function text(value: string | null, field: string): string | null {
  if (value !== null && Buffer.byteLength(value) > driftLimits.upstreamTextBytes)
    throw new DriftTooLarge(`${field} is longer than ${driftLimits.upstreamTextBytes} bytes`);
  return value;
}

/** Upstream states in the main database, so every replica shares one fetch per upstream per TTL. */
export class DatabaseUpstreamStateStore implements UpstreamStateStore {
  readonly #db: Kysely<Tables>;
  constructor(db: Kysely<Tables>) {
    this.#db = db;
  }

  async get(key: string): Promise<UpstreamState | undefined> {
    const r = await this.#db.selectFrom('drift_upstreams').selectAll().where('key', '=', key).executeTakeFirst();
    if (!r) return undefined;
    return {
      key: r.key,
      versions: r.versions === null ? null : (JSON.parse(r.versions) as UpstreamVersion[]),
      etag: r.etag,
      lastModified: r.last_modified,
      fetchedAt: iso(r.fetched_at),
      error: r.error,
      errorAt: iso(r.error_at),
      failures: Number(r.failures),
      retryAt: iso(r.retry_at),
      rateLimit: r.rate_limit === null ? null : (JSON.parse(r.rate_limit) as RateLimit),
    };
  }

  async put(s: UpstreamState): Promise<void> {
    if (Buffer.byteLength(s.key) > driftLimits.upstreamKeyBytes)
      throw new DriftTooLarge(`upstream key is longer than ${driftLimits.upstreamKeyBytes} bytes`);
    const row: DriftUpstreamsTable = {
      key: s.key,
      versions: s.versions === null ? null : json(s.versions, 'upstream versions', driftLimits.upstreamVersionsBytes),
      etag: text(s.etag, 'etag'),
      last_modified: text(s.lastModified, 'lastModified'),
      fetched_at: ms(s.fetchedAt, 'fetchedAt'),
      // An upstream's error text is not ours to bound; a long one is cut rather than lost.
      error: s.error === null ? null : s.error.slice(0, 2048),
      error_at: ms(s.errorAt, 'errorAt'),
      failures: s.failures,
      retry_at: ms(s.retryAt, 'retryAt'),
      rate_limit: s.rateLimit === null ? null : json(s.rateLimit, 'rateLimit', driftLimits.upstreamTextBytes),
    };
    const { key: _, ...update } = row;
    await this.#db
      .insertInto('drift_upstreams')
      .values(row)
      .onConflict((oc) => oc.column('key').doUpdateSet(update))
      .execute();
  }
}
