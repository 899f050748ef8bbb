import { type Kysely, sql, type Transaction } from 'kysely';
import type { Tables } from '../db/tables.ts';
import type { CheckinRecord } from './record.ts';
import { RollupDeltas } from './rollup-deltas.ts';
import { executeShaped } from './shaped-statements.ts';

export interface PendingCheckin {
  record: CheckinRecord;
  periodStart: number;
  /** Keyed digest of the instance id for this period, or null when the client sent none. */
  instanceDigest: string | null;
  /** Schema'd tag keys the rollups group by. */
  rollupTagKeys: readonly string[];
}

/**
 * Splits rows into chunks of power-of-two sizes (at most 256), so multi-row inserts come in a
 * few shapes whose prepared statements stay cached instead of one new shape per batch size.
 */
export function chunks<T>(rows: T[]): T[][] {
  const out: T[][] = [];
  let i = 0;
  while (i < rows.length) {
    const left = rows.length - i;
    const size = left >= 256 ? 256 : 2 ** Math.floor(Math.log2(left));
    out.push(rows.slice(i, i + size));
    i += size;
  }
  return out;
}

/**
 * Stores a batch in one transaction: raw records, instance sightings, and the rollup deltas,
 * so the counts can never disagree with the records.
 */
export async function appendBatch(
  db: Kysely<Tables>,
  batch: PendingCheckin[],
  commit: (work: (tx: Transaction<Tables>) => Promise<void>) => Promise<void> = (work) =>
    db.transaction().execute(work),
): Promise<void> {
  await commit(async (tx) => {
    for (const part of chunks(batch)) {
      const rows = part.map(({ record: r }) => ({
        time: r.time,
        app: r.app,
        app_version: r.appVersion,
        country_iso_code: r.countryIsoCode,
        country: r.country,
        city: r.city,
        tags: JSON.stringify(r.tags),
        fields: JSON.stringify(r.fields),
      }));
      await executeShaped(tx, 'checkins', rows, (r) => tx.insertInto('checkins').values(r));
    }
    const fresh = await insertSightings(tx, batch);
    const deltas = new RollupDeltas();
    for (const item of batch) {
      // delete() so that one instance seen twice in a batch counts once.
      const isNew =
        item.instanceDigest !== null && fresh.delete(`${item.record.app}\0${item.periodStart}\0${item.instanceDigest}`);
      deltas.add(item.record, item.periodStart, item.rollupTagKeys, isNew);
    }
    for (const rows of chunks(deltas.rows())) {
      await executeShaped(tx, 'rollups', rows, (r) =>
        tx
          .insertInto('usage_rollups')
          .values(r)
          .onConflict((oc) =>
            oc.columns(['app', 'dimension', 'period_start', 'value']).doUpdateSet({
              checkins: sql`usage_rollups.checkins + excluded.checkins`,
              unique_instances: sql`usage_rollups.unique_instances + excluded.unique_instances`,
            }),
          ),
      );
    }
  });
}

/** Returns the sightings that are new in their period (the ones that count as a unique instance). */
async function insertSightings(tx: Kysely<Tables>, batch: PendingCheckin[]): Promise<Set<string>> {
  const unique = new Map<string, { app: string; period_start: number; digest: string }>();
  for (const item of batch) {
    if (item.instanceDigest === null) continue;
    const key = `${item.record.app}\0${item.periodStart}\0${item.instanceDigest}`;
    unique.set(key, { app: item.record.app, period_start: item.periodStart, digest: item.instanceDigest });
  }
  const fresh = new Set<string>();
  for (const rows of chunks([...unique.values()])) {
    const inserted = await tx
      .insertInto('instance_sightings')
      .values(rows)
      .onConflict((oc) => oc.columns(['app', 'period_start', 'digest']).doNothing())
      .returning(['app', 'period_start', 'digest'])
      .execute();
    for (const r of inserted) fresh.add(`${r.app}\0${Number(r.period_start)}\0${r.digest}`);
  }
  return fresh;
}

/** Deletes an app's raw records older than `before` (using the app+time index); rollups are kept. */
export async function expireRawCheckins(db: Kysely<Tables>, app: string, before: number): Promise<number> {
  const result = await db.deleteFrom('checkins').where('app', '=', app).where('time', '<', before).executeTakeFirst();
  return Number(result.numDeletedRows);
}
