import { createHash } from 'node:crypto';
import type { DriftSeverity, DriftVersionResolution } from '@flotilla/protocol';
import { type Kysely, sql, type Transaction } from 'kysely';
import type { Tables } from '../db/tables.ts';
import { Invalid } from '../errors.ts';
import { checkId, driftLimits, json } from './limits.ts';
import { listSubjects, type SubjectFilter, type SubjectPage, whereSubject } from './store-queries.ts';
import type { DriftSubjectsTable } from './tables.ts';

export { DriftTooLarge, driftLimits } from './limits.ts';
export { DatabaseUpstreamStateStore } from './shared-upstream-state.ts';
export type { SubjectFilter, SubjectPage } from './store-queries.ts';

export interface RunningVersion {
  runningVersion: string;
  resourceCount: number;
  resourceKind?: string;
  extractedFrom?: string;
  /** ImageTag: the image repository, so its own tags can be the upstream. */
  image?: string;
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
  /** The tracker's own error (bad regex, command failed): shown, never fatal. */
  error?: string | null;
}

/** What the server worked out for a row (filled by the resolver); all null before it ran. */
export interface SubjectResolution {
  upstreamKey: string | null;
  latest: string | null;
  majorsBehind: number | null;
  minorsBehind: number | null;
  patchesBehind: number | null;
  behind: DriftSeverity | null;
  supportEndsAt: number | null;
  resolution: DriftVersionResolution[] | null;
  resolvedAt: number | null;
  resolveError: string | null;
}

export interface SubjectRow
  extends Required<Omit<SubjectReport, 'upstream' | 'namespace' | 'error'>>,
    SubjectResolution {
  environment: string;
  place: string;
  namespace: string | null;
  tags: Record<string, string>;
  upstream: UpstreamReference | null;
  error: string | null;
  reportedAt: number;
  /** When the reported content last changed. */
  changedAt: number;
  /** Set by `expire` once the place stopped reporting; null while it reports. */
  staleSince: number | null;
}

const num = (v: number | string | null) => (v === null ? null : Number(v));

export function toSubject(r: DriftSubjectsTable): SubjectRow {
  return {
    environment: r.environment,
    place: r.place,
    subject: r.subject,
    namespace: r.namespace,
    tags: JSON.parse(r.tags) as Record<string, string>,
    versions: JSON.parse(r.versions) as RunningVersion[],
    upstream: r.upstream === null ? null : (JSON.parse(r.upstream) as UpstreamReference),
    error: r.error ?? null,
    upstreamKey: r.upstream_key ?? null,
    latest: r.latest ?? null,
    majorsBehind: num(r.majors_behind ?? null),
    minorsBehind: num(r.minors_behind ?? null),
    patchesBehind: num(r.patches_behind ?? null),
    behind: (r.behind ?? null) as DriftSeverity | null,
    supportEndsAt: num(r.support_ends_at ?? null),
    resolution: r.resolution ? (JSON.parse(r.resolution) as DriftVersionResolution[]) : null,
    resolvedAt: num(r.resolved_at ?? null),
    resolveError: r.resolve_error ?? null,
    reportedAt: Number(r.reported_at),
    changedAt: Number(r.changed_at),
    staleSince: num(r.stale_since),
  };
}

const sortedTags = (tags: Record<string, string>) =>
  Object.fromEntries(Object.entries(tags).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

/** The stored columns of one reported subject, with the hash that tells a change from a repeat. */
function rowOf(place: string, environment: string, tags: string, report: SubjectReport) {
  checkId(report.subject, 'subject');
  if (report.namespace) checkId(report.namespace, 'namespace');
  const error = report.error ? report.error.slice(0, driftLimits.errorBytes) : null;
  const row = {
    environment,
    place,
    subject: report.subject,
    namespace: report.namespace || null,
    tags,
    versions: json(report.versions, 'versions', driftLimits.versionsBytes),
    upstream: report.upstream ? json(report.upstream, 'upstream', driftLimits.upstreamRefBytes) : null,
    error,
  };
  // `error` joins the hash only when set, so rows stored before it existed keep their hash.
  const parts: unknown[] = [row.namespace, row.tags, row.versions, row.upstream];
  if (error !== null) parts.push(error);
  const contentHash = createHash('sha256').update(JSON.stringify(parts)).digest('base64url');
  return { ...row, content_hash: contentHash };
}

// Rows per INSERT: 13 parameters each stays far below SQLite's and PostgreSQL's parameter limits.
const chunkRows = 500;

/** A batch report's outcome: subjects written, and subjects of the place removed by `complete`. */
export interface IngestResult {
  stored: number;
  removed: number;
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
    await this.ingest(place, environment, tags, [report], false, now);
  }

  /**
   * One batch report in one transaction. `subjects` undefined is a heartbeat (refreshes the place's
   * rows); `complete` removes the place's subjects not in `subjects`. A row whose content changed gets
   * `resolved_at = null` (the resolver's queue) but keeps its last comparison until the resolver re-runs.
   */
  async ingest(
    place: string,
    environment: string,
    tags: Record<string, string>,
    subjects: SubjectReport[] | undefined,
    complete: boolean,
    now = Date.now(),
  ): Promise<IngestResult> {
    const report = prepareReport(place, environment, tags, subjects, complete, now);
    const [result] = await this.#db.transaction().execute((tx) => applyReports(tx, [report]));
    return result as IngestResult;
  }

  /** Ordered by (environment, place, subject); `next` resumes after the last row returned. */
  list(f: SubjectFilter): Promise<SubjectPage> {
    return listSubjects(this.#db, f);
  }

  /** Places running `subject` (any version, or only `version`), with only the matching versions. */
  where(subject: string, version?: string): Promise<SubjectRow[]> {
    return whereSubject(this.#db, subject, version);
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

/** A report checked and turned into rows, ready to be applied inside a transaction. */
export interface PreparedReport {
  place: string;
  environment: string;
  /** Undefined: a heartbeat. */
  rows: ReturnType<typeof rowOf>[] | undefined;
  complete: boolean;
  now: number;
}

/** Checks sizes before any write, so a refused report costs no transaction (and fails alone in a batch). */
export function prepareReport(
  place: string,
  environment: string,
  tags: Record<string, string>,
  subjects: SubjectReport[] | undefined,
  complete: boolean,
  now: number,
): PreparedReport {
  checkId(place, 'place');
  checkId(environment, 'environment');
  if (subjects === undefined) return { place, environment, rows: undefined, complete: false, now };
  const tagText = json(sortedTags(tags), 'tags', driftLimits.tagsBytes);
  // The last of a repeated subject wins: one statement may not touch a row twice (PostgreSQL).
  const bySubject = new Map(subjects.map((s) => [s.subject, rowOf(place, environment, tagText, s)]));
  return { place, environment, rows: [...bySubject.values()], complete, now };
}

/**
 * Applies reports in order. Reports of distinct places commute, so each run of them shares one
 * multi-row upsert; a place seen again starts a new run, which keeps a later report's effect last.
 */
export async function applyReports(
  tx: Transaction<Tables>,
  reports: PreparedReport[],
  resolutionMs = reportedAtResolutionMs,
): Promise<IngestResult[]> {
  const results: IngestResult[] = [];
  let run: PreparedReport[] = [];
  const places = new Set<string>();
  for (const r of reports) {
    const key = JSON.stringify([r.environment, r.place]);
    if (places.has(key)) {
      results.push(...(await applyRun(tx, run, resolutionMs)));
      run = [];
      places.clear();
    }
    places.add(key);
    run.push(r);
  }
  results.push(...(await applyRun(tx, run, resolutionMs)));
  return results;
}

/**
 * By default an unchanged row's `reported_at` is rewritten at most this often: agents re-send
 * unchanged subjects every minute or so, and rewriting the row each time is most of what ingestion
 * would write. The service uses a quarter of the stale period.
 */
export const reportedAtResolutionMs = 60_000;

async function applyRun(tx: Transaction<Tables>, run: PreparedReport[], resolutionMs: number): Promise<IngestResult[]> {
  const rows = run.flatMap((r) => (r.rows ?? []).map((row) => ({ ...row, reported_at: r.now, changed_at: r.now })));
  for (let i = 0; i < rows.length; i += chunkRows) await upsertRows(tx, rows.slice(i, i + chunkRows), resolutionMs);
  const results: IngestResult[] = [];
  for (const r of run) {
    if (r.rows === undefined) {
      await tx
        .updateTable('drift_subjects')
        .set({ reported_at: r.now, stale_since: null })
        .where('environment', '=', r.environment)
        .where('place', '=', r.place)
        .where((eb) => eb.or([eb('reported_at', '<=', r.now - resolutionMs), eb('stale_since', 'is not', null)]))
        .execute();
      results.push({ stored: 0, removed: 0 });
      continue;
    }
    let removed = 0;
    if (r.complete) {
      let del = tx.deleteFrom('drift_subjects').where('environment', '=', r.environment).where('place', '=', r.place);
      if (r.rows.length > 0)
        del = del.where(
          'subject',
          'not in',
          r.rows.map((row) => row.subject),
        );
      removed = Number((await del.executeTakeFirst()).numDeletedRows);
    }
    results.push({ stored: r.rows.length, removed });
  }
  return results;
}

type TimedRow = ReturnType<typeof rowOf> & { reported_at: number; changed_at: number };

async function upsertRows(tx: Transaction<Tables>, rows: TimedRow[], resolutionMs: number): Promise<void> {
  const same = sql<boolean>`${sql.ref('drift_subjects.content_hash')} = ${sql.ref('excluded.content_hash')}`;
  const refreshBefore = Math.min(...rows.map((r) => r.reported_at)) - resolutionMs;
  await tx
    .insertInto('drift_subjects')
    .values(rows.map((r) => ({ ...r, stale_since: null, resolved_at: null })))
    .onConflict((oc) =>
      oc
        .columns(['environment', 'place', 'subject'])
        .doUpdateSet((eb) => ({
          namespace: eb.ref('excluded.namespace'),
          tags: eb.ref('excluded.tags'),
          versions: eb.ref('excluded.versions'),
          upstream: eb.ref('excluded.upstream'),
          error: eb.ref('excluded.error'),
          content_hash: eb.ref('excluded.content_hash'),
          reported_at: eb.ref('excluded.reported_at'),
          changed_at: sql<number>`case when ${same} then ${sql.ref('drift_subjects.changed_at')} else ${sql.ref('excluded.changed_at')} end`,
          resolved_at: sql<
            number | null
          >`case when ${same} then ${sql.ref('drift_subjects.resolved_at')} else null end`,
          stale_since: null,
        }))
        .where((eb) =>
          eb.or([
            sql<boolean>`not (${same})`,
            eb('drift_subjects.reported_at', '<=', refreshBefore),
            eb('drift_subjects.stale_since', 'is not', null),
          ]),
        ),
    )
    .execute();
}
