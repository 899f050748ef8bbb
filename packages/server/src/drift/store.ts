import { createHash } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type { Tables } from '../db/tables.ts';
import { DomainError, Invalid } from '../errors.ts';
import type { DriftSubjectsTable, DriftUpstreamsTable } from './tables.ts';
import type { UpstreamState, UpstreamStateStore } from './upstreams/cache.ts';
import type { RateLimit, UpstreamVersion } from './upstreams/types.ts';

/** Byte caps on what a row holds, checked before writing (the schemas bound each field, these the total). */
export const driftLimits = {
  idBytes: 253,
  tagsBytes: 16 * 1024,
  versionsBytes: 512 * 1024,
  upstreamRefBytes: 8 * 1024,
  upstreamKeyBytes: 1024,
  upstreamVersionsBytes: 8 * 1024 * 1024,
  upstreamTextBytes: 8 * 1024,
} as const;

/** A value too large to store; mapped to 413. */
export class DriftTooLarge extends DomainError {
  constructor(message: string) {
    super('payload_too_large', message);
  }
}

export interface RunningVersion {
  runningVersion: string;
  resourceCount: number;
  resourceKind?: string;
  extractedFrom?: string;
}

/** Where newer versions are looked up, as the tracker's `remoteVersion` says. */
export interface UpstreamReference {
  provider: string;
  strategy?: string;
  repo?: string;
  chart?: string;
  extraction?: { regex: { pattern: string; result?: string } };
  constraint?: string;
}

/** One subject (tracker `spec.name`) as a place reports it. */
export interface SubjectReport {
  subject: string;
  namespace?: string | null;
  versions: RunningVersion[];
  upstream?: UpstreamReference | null;
}

export interface SubjectRow extends Required<Omit<SubjectReport, 'upstream' | 'namespace'>> {
  environment: string;
  place: string;
  namespace: string | null;
  tags: Record<string, string>;
  upstream: UpstreamReference | null;
  reportedAt: number;
  /** When the reported content last changed. */
  changedAt: number;
  /** Set by `expire` once the place stopped reporting; null while it reports. */
  staleSince: number | null;
}

export interface SubjectFilter {
  environment?: string;
  place?: string;
  subject?: string;
  limit: number;
  /** The `next` cursor of the previous page. */
  after?: string;
}

export interface SubjectPage {
  items: SubjectRow[];
  /** Cursor of the next page; null on the last one. */
  next: string | null;
}

function json(value: unknown, field: string, maxBytes: number): string {
  const text = JSON.stringify(value);
  const bytes = Buffer.byteLength(text);
  if (bytes > maxBytes) throw new DriftTooLarge(`${field} is ${bytes} bytes; at most ${maxBytes} are stored`);
  return text;
}

function checkId(value: string, field: string): void {
  if (value.length === 0) throw new Invalid(`${field} must not be empty`);
  if (Buffer.byteLength(value) > driftLimits.idBytes)
    throw new DriftTooLarge(`${field} is longer than ${driftLimits.idBytes} bytes`);
}

function toSubject(r: DriftSubjectsTable): SubjectRow {
  return {
    environment: r.environment,
    place: r.place,
    subject: r.subject,
    namespace: r.namespace,
    tags: JSON.parse(r.tags) as Record<string, string>,
    versions: JSON.parse(r.versions) as RunningVersion[],
    upstream: r.upstream === null ? null : (JSON.parse(r.upstream) as UpstreamReference),
    reportedAt: Number(r.reported_at),
    changedAt: Number(r.changed_at),
    staleSince: r.stale_since === null ? null : Number(r.stale_since),
  };
}

// The cursor is the last row's key, opaque to clients; rows are ordered by that key, so paging is stable.
function encodeCursor(r: SubjectRow): string {
  return Buffer.from(JSON.stringify([r.environment, r.place, r.subject])).toString('base64url');
}

function decodeCursor(cursor: string): [string, string, string] {
  try {
    const key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(key) && key.length === 3 && key.every((k) => typeof k === 'string'))
      return key as [string, string, string];
  } catch {}
  throw new Invalid('after: not a cursor this server issued');
}

/** Reports per (environment, place, subject): the place is the reporting agent's cluster or host id. */
export class DriftStore {
  readonly #db: Kysely<Tables>;
  constructor(db: Kysely<Tables>) {
    this.#db = db;
  }

  /** Idempotent: the same report again only refreshes `reported_at` (and clears `stale_since`). */
  async upsertReport(
    place: string,
    environment: string,
    tags: Record<string, string>,
    report: SubjectReport,
    now = Date.now(),
  ): Promise<void> {
    checkId(place, 'place');
    checkId(environment, 'environment');
    checkId(report.subject, 'subject');
    if (report.namespace) checkId(report.namespace, 'namespace');
    const sortedTags = Object.fromEntries(Object.entries(tags).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    const row = {
      environment,
      place,
      subject: report.subject,
      namespace: report.namespace || null,
      tags: json(sortedTags, 'tags', driftLimits.tagsBytes),
      versions: json(report.versions, 'versions', driftLimits.versionsBytes),
      upstream: report.upstream ? json(report.upstream, 'upstream', driftLimits.upstreamRefBytes) : null,
    };
    const hash = createHash('sha256').update(JSON.stringify([row.namespace, row.tags, row.versions, row.upstream]));
    const contentHash = hash.digest('base64url');
    await this.#db
      .insertInto('drift_subjects')
      .values({ ...row, content_hash: contentHash, reported_at: now, changed_at: now, stale_since: null })
      .onConflict((oc) =>
        oc.columns(['environment', 'place', 'subject']).doUpdateSet((eb) => ({
          namespace: eb.ref('excluded.namespace'),
          tags: eb.ref('excluded.tags'),
          versions: eb.ref('excluded.versions'),
          upstream: eb.ref('excluded.upstream'),
          content_hash: eb.ref('excluded.content_hash'),
          reported_at: eb.ref('excluded.reported_at'),
          changed_at: sql<number>`case when ${sql.ref('drift_subjects.content_hash')} = ${sql.ref('excluded.content_hash')} then ${sql.ref('drift_subjects.changed_at')} else ${sql.ref('excluded.changed_at')} end`,
          stale_since: null,
        })),
      )
      .execute();
  }

  /** Ordered by (environment, place, subject); `next` resumes after the last row returned. */
  async list(f: SubjectFilter): Promise<SubjectPage> {
    if (!Number.isInteger(f.limit) || f.limit < 1) throw new Invalid('limit must be a positive integer');
    let q = this.#db.selectFrom('drift_subjects').selectAll();
    if (f.environment !== undefined) q = q.where('environment', '=', f.environment);
    if (f.place !== undefined) q = q.where('place', '=', f.place);
    if (f.subject !== undefined) q = q.where('subject', '=', f.subject);
    if (f.after !== undefined) {
      const [environment, place, subject] = decodeCursor(f.after);
      q = q.where((eb) =>
        eb.or([
          eb('environment', '>', environment),
          eb.and([eb('environment', '=', environment), eb('place', '>', place)]),
          eb.and([eb('environment', '=', environment), eb('place', '=', place), eb('subject', '>', subject)]),
        ]),
      );
    }
    const rows = await q
      .orderBy('environment')
      .orderBy('place')
      .orderBy('subject')
      .limit(f.limit + 1)
      .execute();
    const items = rows.slice(0, f.limit).map(toSubject);
    const last = items.at(-1);
    return { items, next: rows.length > f.limit && last ? encodeCursor(last) : null };
  }

  /** Places running `subject` (any version, or only `version`), with only the matching versions. */
  async where(subject: string, version?: string): Promise<SubjectRow[]> {
    const rows = await this.#db
      .selectFrom('drift_subjects')
      .selectAll()
      .where('subject', '=', subject)
      .orderBy('environment')
      .orderBy('place')
      .execute();
    const out: SubjectRow[] = [];
    for (const row of rows.map(toSubject)) {
      if (version === undefined) out.push(row);
      else {
        const versions = row.versions.filter((v) => v.runningVersion === version);
        if (versions.length > 0) out.push({ ...row, versions });
      }
    }
    return out;
  }

  /**
   * Marks rows not reported for `staleAfterMs` stale (once; the next report clears it) and deletes rows
   * not reported for `removeAfterMs`. Returns how many rows each step touched.
   */
  async expire(now: number, staleAfterMs: number, removeAfterMs: number): Promise<{ stale: number; removed: number }> {
    if (!(staleAfterMs > 0 && removeAfterMs >= staleAfterMs))
      throw new Invalid('expiry needs 0 < staleAfterMs <= removeAfterMs');
    const removed = await this.#db
      .deleteFrom('drift_subjects')
      .where('reported_at', '<', now - removeAfterMs)
      .executeTakeFirst();
    const stale = await this.#db
      .updateTable('drift_subjects')
      .set({ stale_since: now })
      .where('reported_at', '<', now - staleAfterMs)
      .where('stale_since', 'is', null)
      .executeTakeFirst();
    return { stale: Number(stale.numUpdatedRows), removed: Number(removed.numDeletedRows) };
  }
}

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
