import { type Kysely, sql, type Transaction } from 'kysely';
import { prepared } from '../db/prepared.ts';
import type { Tables } from '../db/tables.ts';
import type { Comparison } from './resolver-compare.ts';
import type { RunningVersion, UpstreamReference } from './store.ts';

// The resolver's own queries on drift_subjects: its work queue (rows with `resolved_at` null), the
// write of a comparison, and the distinct upstreams to refresh.

export interface PendingRow {
  environment: string;
  place: string;
  subject: string;
  versions: RunningVersion[];
  upstream: UpstreamReference | null;
  /** The content compared: the write only lands if the row still holds it. */
  contentHash: string;
}

/** A comparison to write on a row. */
export interface ResolvedRow {
  row: PendingRow;
  upstreamKey: string | null;
  comparison: Comparison;
}

/** One row per distinct upstream key, with a reference (and versions) that name it. */
export interface KeyRow {
  key: string;
  upstream: UpstreamReference | null;
  versions: RunningVersion[];
}

/** Resolutions larger than this keep fewer newer releases per version (1,000 running versions × 100 would be MiBs). */
const maxResolutionBytes = 256 * 1024;
const trimmedNewer = 10;

// Rows with the same content share one Comparison object: its JSON is built once, not per row.
const jsonOf = new WeakMap<Comparison, string>();

function resolutionJson(c: Comparison): string {
  let text = jsonOf.get(c);
  if (text !== undefined) return text;
  text = JSON.stringify(c.resolution);
  if (Buffer.byteLength(text) > maxResolutionBytes)
    text = JSON.stringify(c.resolution.map((r) => ({ ...r, newer: r.newer.slice(0, trimmedNewer) })));
  jsonOf.set(c, text);
  return text;
}

// One UPDATE per compared row, compiled once per batch's transaction rather than built per row.
const writeComparison = prepared<
  Tables,
  never,
  [
    string | null,
    string | null,
    number | null,
    number | null,
    number | null,
    string | null,
    number | null,
    string,
    number,
    string | null,
    string,
    string,
    string,
    string,
  ]
>((db) =>
  db
    .updateTable('drift_subjects')
    .set({
      upstream_key: '',
      latest: '',
      majors_behind: 0,
      minors_behind: 0,
      patches_behind: 0,
      behind: '',
      support_ends_at: 0,
      resolution: '',
      resolved_at: 0,
      resolve_error: '',
    })
    .where('environment', '=', '')
    .where('place', '=', '')
    .where('subject', '=', '')
    .where('content_hash', '=', ''),
);

export type Commit = <T>(work: (tx: Transaction<Tables>) => Promise<T>) => Promise<T>;

export class ResolutionStore {
  readonly #db: Kysely<Tables>;
  readonly #commit: Commit;
  /** `commit` defaults to a plain transaction; the server passes its durable commit (fsync off the event loop). */
  constructor(db: Kysely<Tables>, commit?: Commit) {
    this.#db = db;
    this.#commit = commit ?? ((work) => db.transaction().execute(work));
  }

  /** Rows waiting for a comparison, in index order (no sort over a long queue; written rows leave it). */
  async pending(limit: number): Promise<PendingRow[]> {
    const rows = await this.#db
      .selectFrom('drift_subjects')
      .select(['environment', 'place', 'subject', 'versions', 'upstream', 'content_hash'])
      .where('resolved_at', 'is', null)
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      environment: r.environment,
      place: r.place,
      subject: r.subject,
      versions: JSON.parse(r.versions) as RunningVersion[],
      upstream: r.upstream === null ? null : (JSON.parse(r.upstream) as UpstreamReference),
      contentHash: r.content_hash,
    }));
  }

  /**
   * Writes comparisons in one transaction (one commit per batch, not per row); a row whose content
   * changed meanwhile is left for the next pass. Returns how many rows were written.
   */
  async writeAll(items: ResolvedRow[], now: number): Promise<number> {
    if (items.length === 0) return 0;
    return this.#commit(async (trx) => {
      let written = 0;
      for (const { row, upstreamKey, comparison: c } of items) {
        const result = await writeComparison(
          trx,
          upstreamKey,
          c.latest,
          c.majorsBehind,
          c.minorsBehind,
          c.patchesBehind,
          c.behind,
          c.supportEndsAt,
          resolutionJson(c),
          now,
          c.error === null ? null : c.error.slice(0, 2048),
          row.environment,
          row.place,
          row.subject,
          row.contentHash,
        );
        if (Number(result.numAffectedRows ?? 0) > 0) written++;
      }
      return written;
    });
  }

  /**
   * Every distinct upstream key in use, each with one reference naming it. A key without a reference
   * is an image's own tags (`oci:<host>/<name>`), named again by that image.
   */
  async keys(): Promise<KeyRow[]> {
    const rows = await this.#db
      .selectFrom('drift_subjects')
      .select(['upstream_key', sql<string | null>`min(${sql.ref('upstream')})`.as('upstream')])
      .where('upstream_key', 'is not', null)
      .groupBy('upstream_key')
      .execute();
    return rows.map((r) => {
      const key = r.upstream_key as string;
      const image = r.upstream === null && key.startsWith('oci:') ? key.slice('oci:'.length) : undefined;
      return {
        key,
        upstream: r.upstream === null ? null : (JSON.parse(r.upstream) as UpstreamReference),
        versions: image ? [{ runningVersion: '', resourceCount: 0, image }] : [],
      };
    });
  }

  /** The key's list changed: its rows are compared again. */
  async invalidate(key: string): Promise<number> {
    const result = await this.#db
      .updateTable('drift_subjects')
      .set({ resolved_at: null })
      .where('upstream_key', '=', key)
      .where('resolved_at', 'is not', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  /** Rows compared with each upstream key. */
  async subjectCounts(): Promise<Map<string, number>> {
    const rows = await this.#db
      .selectFrom('drift_subjects')
      .select(['upstream_key', (eb) => eb.fn.countAll<number | string>().as('n')])
      .where('upstream_key', 'is not', null)
      .groupBy('upstream_key')
      .execute();
    return new Map(rows.map((r) => [r.upstream_key as string, Number(r.n)]));
  }
}
