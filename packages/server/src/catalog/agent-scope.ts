import type { Kysely } from 'kysely';
import type { Principal } from '../auth/tokens.ts';
import type { Tables } from '../db/tables.ts';
import { NotFound } from '../errors.ts';
import { activeStates } from '../rollouts/evaluate.ts';

/** How many of an environment's latest revisions (the current one included) agents may still fetch. */
export const recentRevisions = 10;

/** service → versions an environment's agents may fetch. */
export type AllowedVersions = Map<string, Set<string>>;

/**
 * Which versions an environment's agents may download: those its latest `recentRevisions` revisions
 * desire, and those of the base and target revisions of its active rollout. Answers are cached per
 * environment until its latest revision or its active rollouts change (one small query per call).
 */
export function createAgentScope(db: Kysely<Tables>) {
  const cache = new Map<string, { key: string; allowed: AllowedVersions }>();

  /** The latest revision and the active rollouts' revisions, as the cache key. */
  async function currentKey(environment: string): Promise<{ latest: number; rolloutRevisions: number[] }> {
    const row = await db
      .selectNoFrom((eb) => [
        eb
          .selectFrom('desired_revisions')
          .where('env', '=', environment)
          .select((s) => s.fn.max('revision').as('m'))
          .as('latest'),
      ])
      .executeTakeFirst();
    const rollouts = await db
      .selectFrom('rollouts')
      .select(['base_revision', 'target_revision'])
      .where('environment', '=', environment)
      .where('state', 'in', [...activeStates])
      .execute();
    const rolloutRevisions = rollouts.flatMap((r) => [Number(r.base_revision), Number(r.target_revision)]);
    return { latest: Number(row?.latest ?? 0), rolloutRevisions: [...new Set(rolloutRevisions)].sort((a, b) => a - b) };
  }

  async function load(environment: string, latest: number, rolloutRevisions: number[]): Promise<AllowedVersions> {
    const rows = await db
      .selectFrom('desired_revisions')
      .select('versions')
      .where('env', '=', environment)
      .where((eb) => {
        const recent = eb('revision', '>', latest - recentRevisions);
        return rolloutRevisions.length > 0 ? eb.or([recent, eb('revision', 'in', rolloutRevisions)]) : recent;
      })
      .execute();
    const allowed: AllowedVersions = new Map();
    for (const row of rows) {
      for (const [service, version] of Object.entries(JSON.parse(row.versions) as Record<string, string>)) {
        const versions = allowed.get(service) ?? new Set<string>();
        versions.add(version);
        allowed.set(service, versions);
      }
    }
    return allowed;
  }

  /** The versions `environment`'s agents may download now. */
  async function allowedVersions(environment: string): Promise<AllowedVersions> {
    const { latest, rolloutRevisions } = await currentKey(environment);
    const key = `${latest}:${rolloutRevisions.join(',')}`;
    const hit = cache.get(environment);
    if (hit?.key === key) return hit.allowed;
    const allowed = await load(environment, latest, rolloutRevisions);
    cache.set(environment, { key, allowed });
    return allowed;
  }

  /**
   * Throws NotFound (the same words as a missing version, so existence is not revealed) unless the
   * agent principal may download `service` `version`. Other principals pass.
   */
  async function requireDownloadable(principal: Principal, service: string, version: string): Promise<void> {
    if (principal.role !== 'agent') return;
    const allowed = principal.environment ? await allowedVersions(principal.environment) : undefined;
    if (!allowed?.get(service)?.has(version)) throw new NotFound(`service "${service}" has no version ${version}`);
  }

  return { allowedVersions, requireDownloadable };
}

export type AgentScope = ReturnType<typeof createAgentScope>;
