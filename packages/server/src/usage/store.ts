import type { Kysely } from 'kysely';
import type { Tables } from '../db/tables.ts';

export interface RollupRow {
  periodStart: number;
  value: string;
  checkins: number;
  uniqueInstances: number;
}

export async function readRollups(
  db: Kysely<Tables>,
  q: { app: string; dimension: string; from: number; to: number },
): Promise<RollupRow[]> {
  const rows = await db
    .selectFrom('usage_rollups')
    .select(['period_start', 'value', 'checkins', 'unique_instances'])
    .where('app', '=', q.app)
    .where('dimension', '=', q.dimension)
    .where('period_start', '>=', q.from)
    .where('period_start', '<', q.to)
    .orderBy('period_start')
    .execute();
  return rows.map((r) => ({
    periodStart: Number(r.period_start),
    value: r.value,
    checkins: Number(r.checkins),
    uniqueInstances: Number(r.unique_instances),
  }));
}
