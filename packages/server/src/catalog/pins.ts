import { type Kysely, sql } from 'kysely';
import type { Tables } from '../db/tables.ts';
import { activeRolloutVersions } from '../rollouts/store.ts';

/** How many of each environment's latest desired revisions keep their versions from history trimming. */
export const pinnedRevisions = 10;

/**
 * Whether a version is in use and must survive history trimming: it is named by one of the latest
 * revisions of some environment's desired list, so a rollback to it must still find its artifact, or
 * by the base or target revision of an active rollout, which agents are served while it runs.
 */
export async function isVersionPinned(db: Kysely<Tables>, service: string, version: string): Promise<boolean> {
  const latest = db
    .selectFrom('desired_revisions')
    .select(['env', (eb) => eb.fn.max('revision').as('max_revision')])
    .groupBy('env')
    .as('latest');
  const rows = await db
    .selectFrom('desired_revisions as d')
    .innerJoin(latest, 'latest.env', 'd.env')
    .select('d.versions')
    .where(sql<boolean>`d.revision > latest.max_revision - ${pinnedRevisions}`)
    .execute();
  if (rows.some((r) => (JSON.parse(r.versions) as Record<string, string>)[service] === version)) return true;
  return (await activeRolloutVersions(db)).some((versions) => versions[service] === version);
}

export type PinCheck = typeof isVersionPinned;
