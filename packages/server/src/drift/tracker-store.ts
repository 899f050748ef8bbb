import type { VersionTracker } from '@flotilla/protocol';
import type { Kysely, Transaction } from 'kysely';
import type { Tables } from '../db/tables.ts';

/** One stored host tracker: the whole validated document, keyed by (environment, metadata.name). */
export interface StoredTracker {
  name: string;
  tracker: VersionTracker;
  updatedAt: number;
  updatedBy: string;
}

export interface ApplyOutcome {
  created: string[];
  updated: string[];
  unchanged: string[];
  pruned: string[];
}

type Db = Kysely<Tables> | Transaction<Tables>;

/** Host trackers per environment (`drift_trackers`); callers validate, this only stores. */
export class TrackerStore {
  readonly #db: Kysely<Tables>;
  constructor(db: Kysely<Tables>) {
    this.#db = db;
  }

  /** The environment's trackers, by name. */
  async list(environment: string, db: Db = this.#db): Promise<StoredTracker[]> {
    const rows = await db
      .selectFrom('drift_trackers')
      .selectAll()
      .where('environment', '=', environment)
      .orderBy('name')
      .execute();
    return rows.map((r) => ({
      name: r.name,
      tracker: JSON.parse(r.spec) as VersionTracker,
      updatedAt: Number(r.updated_at),
      updatedBy: r.updated_by,
    }));
  }

  /**
   * A short fingerprint of the environment's set, from names and update times only (no documents
   * read): every write moves `updated_at` forward, so any change changes it. Agents' ETag.
   */
  async fingerprint(environment: string): Promise<string> {
    const rows = await this.#db
      .selectFrom('drift_trackers')
      .select(['name', 'updated_at'])
      .where('environment', '=', environment)
      .orderBy('name')
      .execute();
    return fingerprintOf(rows.map((r) => ({ name: r.name, updatedAt: Number(r.updated_at) })));
  }

  /**
   * Upserts `trackers` (documents unchanged keep their time and author) and, with `prune`, removes the
   * environment's others. Runs in the caller's transaction.
   */
  async apply(
    tx: Transaction<Tables>,
    environment: string,
    trackers: VersionTracker[],
    prune: boolean,
    by: string,
    now: number,
  ): Promise<ApplyOutcome> {
    const existing = new Map((await this.list(environment, tx)).map((t) => [t.name, t]));
    const out: ApplyOutcome = { created: [], updated: [], unchanged: [], pruned: [] };
    for (const tracker of trackers) {
      const name = tracker.metadata.name;
      const spec = JSON.stringify(tracker);
      const before = existing.get(name);
      existing.delete(name);
      if (before && JSON.stringify(before.tracker) === spec) {
        out.unchanged.push(name);
        continue;
      }
      // Strictly later than the last write, so the fingerprint changes even within one millisecond.
      const updatedAt = Math.max(now, (before?.updatedAt ?? 0) + 1);
      if (before) {
        await tx
          .updateTable('drift_trackers')
          .set({ spec, updated_at: updatedAt, updated_by: by })
          .where('environment', '=', environment)
          .where('name', '=', name)
          .execute();
        out.updated.push(name);
      } else {
        await tx
          .insertInto('drift_trackers')
          .values({ environment, name, spec, updated_at: updatedAt, updated_by: by })
          .execute();
        out.created.push(name);
      }
    }
    if (prune && existing.size > 0) {
      out.pruned = [...existing.keys()];
      await tx
        .deleteFrom('drift_trackers')
        .where('environment', '=', environment)
        .where('name', 'in', out.pruned)
        .execute();
    }
    return out;
  }

  /** Removes one tracker; returns what it was, or undefined when there was none. */
  async delete(tx: Transaction<Tables>, environment: string, name: string): Promise<StoredTracker | undefined> {
    const before = (await this.list(environment, tx)).find((t) => t.name === name);
    if (!before) return undefined;
    await tx.deleteFrom('drift_trackers').where('environment', '=', environment).where('name', '=', name).execute();
    return before;
  }
}

/** The fingerprint of a listed set (as `fingerprint` computes it from the table). */
export function fingerprintOf(rows: { name: string; updatedAt: number }[]): string {
  return rows.map((r) => `${r.name}@${r.updatedAt}`).join(',');
}
