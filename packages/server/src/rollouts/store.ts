import type { Kysely } from 'kysely';
import type { Tables } from '../db/tables.ts';
import { activeStates, type ObservedService, type RolloutPolicy, type RolloutState } from './evaluate.ts';
import type { Admitted, WaveSpec } from './waves.ts';

export interface RolloutRow {
  id: string;
  environment: string;
  state: RolloutState;
  baseRevision: number;
  targetRevision: number;
  seed: string;
  waves: WaveSpec[];
  currentWave: number;
  /** Instances taken into a wave earlier than their own, so no percentage wave stays empty. */
  admitted: Admitted;
  policy: RolloutPolicy;
  comment: string | null;
  createdBy: string;
  createdAt: string;
  waveStartedAt: string;
  updatedAt: string;
  finishedAt: string | null;
}

export interface RolloutEvent {
  at: string;
  from: RolloutState | null;
  to: RolloutState;
  wave: number;
  actor: string;
  reason: string | null;
}

export interface InstanceObservation {
  instanceId: string;
  labels: Record<string, string>;
  lastSeenAt: string;
  services: ObservedService[];
}

function toRollout(r: Tables['rollouts']): RolloutRow {
  return {
    id: r.id,
    environment: r.environment,
    state: r.state as RolloutState,
    baseRevision: Number(r.base_revision),
    targetRevision: Number(r.target_revision),
    seed: r.seed,
    waves: JSON.parse(r.waves) as WaveSpec[],
    currentWave: Number(r.current_wave),
    admitted: JSON.parse(r.admitted) as Admitted,
    policy: JSON.parse(r.policy) as RolloutPolicy,
    comment: r.comment,
    createdBy: r.created_by,
    createdAt: r.created_at,
    waveStartedAt: r.wave_started_at,
    updatedAt: r.updated_at,
    finishedAt: r.finished_at,
  };
}

export async function insertRollout(db: Kysely<Tables>, r: RolloutRow): Promise<void> {
  await db
    .insertInto('rollouts')
    .values({
      id: r.id,
      environment: r.environment,
      state: r.state,
      base_revision: r.baseRevision,
      target_revision: r.targetRevision,
      seed: r.seed,
      waves: JSON.stringify(r.waves),
      current_wave: r.currentWave,
      admitted: JSON.stringify(r.admitted),
      policy: JSON.stringify(r.policy),
      comment: r.comment,
      created_by: r.createdBy,
      created_at: r.createdAt,
      wave_started_at: r.waveStartedAt,
      updated_at: r.updatedAt,
      finished_at: r.finishedAt,
    })
    .execute();
}

export async function insertEvent(db: Kysely<Tables>, rolloutId: string, e: RolloutEvent): Promise<void> {
  await db
    .insertInto('rollout_events')
    .values({
      id: crypto.randomUUID(),
      rollout_id: rolloutId,
      at: e.at,
      from_state: e.from,
      to_state: e.to,
      wave: e.wave,
      actor: e.actor,
      reason: e.reason,
    })
    .execute();
}

export async function getRollout(db: Kysely<Tables>, id: string): Promise<RolloutRow | undefined> {
  const row = await db.selectFrom('rollouts').selectAll().where('id', '=', id).executeTakeFirst();
  return row && toRollout(row);
}

/** The environment's active rollout (running, waiting for approval or paused), if any. */
export async function activeRollout(db: Kysely<Tables>, environment: string): Promise<RolloutRow | undefined> {
  const row = await db
    .selectFrom('rollouts')
    .selectAll()
    .where('environment', '=', environment)
    .where('state', 'in', [...activeStates])
    .orderBy('created_at', 'desc')
    .executeTakeFirst();
  return row && toRollout(row);
}

export async function listActiveRollouts(db: Kysely<Tables>): Promise<RolloutRow[]> {
  const rows = await db
    .selectFrom('rollouts')
    .selectAll()
    .where('state', 'in', [...activeStates])
    .execute();
  return rows.map(toRollout);
}

export async function listRollouts(db: Kysely<Tables>, environment: string, limit: number): Promise<RolloutRow[]> {
  const rows = await db
    .selectFrom('rollouts')
    .selectAll()
    .where('environment', '=', environment)
    .orderBy('created_at', 'desc')
    .orderBy('id')
    .limit(limit)
    .execute();
  return rows.map(toRollout);
}

export async function listEvents(db: Kysely<Tables>, rolloutId: string): Promise<RolloutEvent[]> {
  const rows = await db
    .selectFrom('rollout_events')
    .selectAll()
    .where('rollout_id', '=', rolloutId)
    .orderBy('at')
    .orderBy('id')
    .execute();
  return rows.map((r) => ({
    at: r.at,
    from: r.from_state as RolloutState | null,
    to: r.to_state as RolloutState,
    wave: Number(r.wave),
    actor: r.actor,
    reason: r.reason,
  }));
}

/** Moves a rollout only if it is still where the caller saw it; false when someone else moved it first. */
export async function moveRollout(
  db: Kysely<Tables>,
  id: string,
  from: { state: RolloutState; currentWave: number },
  to: { state: RolloutState; currentWave: number; waveStartedAt?: string; at: string; finished: boolean },
): Promise<boolean> {
  const result = await db
    .updateTable('rollouts')
    .set({
      state: to.state,
      current_wave: to.currentWave,
      updated_at: to.at,
      ...(to.waveStartedAt === undefined ? {} : { wave_started_at: to.waveStartedAt }),
      ...(to.finished ? { finished_at: to.at } : {}),
    })
    .where('id', '=', id)
    .where('state', '=', from.state)
    .where('current_wave', '=', from.currentWave)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/**
 * Takes an instance into the current wave, only if the rollout is still where the caller saw it;
 * false when someone else moved it (or took an instance) first.
 */
export async function admitInstance(
  db: Kysely<Tables>,
  rollout: RolloutRow,
  admitted: Admitted,
  at: string,
): Promise<boolean> {
  const result = await db
    .updateTable('rollouts')
    .set({ admitted: JSON.stringify(admitted), updated_at: at })
    .where('id', '=', rollout.id)
    .where('state', '=', rollout.state)
    .where('current_wave', '=', rollout.currentWave)
    .where('admitted', '=', JSON.stringify(rollout.admitted))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Labels of one instance of the environment; undefined when the environment does not know it. */
export async function instanceLabels(
  db: Kysely<Tables>,
  environment: string,
  instanceId: string,
): Promise<Record<string, string> | undefined> {
  const row = await db
    .selectFrom('instances')
    .select('labels')
    .where('instance_id', '=', instanceId)
    .where('environment', '=', environment)
    .executeTakeFirst();
  return row && (JSON.parse(row.labels) as Record<string, string>);
}

/**
 * Instances a rollout may count: enrolled in this environment, neither they nor the token that
 * enrolled them revoked. Rows from before enrolment existed, and invented ids, never count.
 */
function enrolledIn(db: Kysely<Tables>, environment: string) {
  return db
    .selectFrom('agent_identities as a')
    .innerJoin('api_tokens as t', 't.id', 'a.token_id')
    .select('a.instance_id')
    .where('a.environment', '=', environment)
    .where('a.revoked_at', 'is', null)
    .where('t.revoked_at', 'is', null);
}

/** Every enrolled instance of the environment with its reported services. */
export async function environmentInstances(db: Kysely<Tables>, environment: string): Promise<InstanceObservation[]> {
  const instances = await db
    .selectFrom('instances as i')
    .select(['i.instance_id', 'i.labels', 'i.last_seen_at'])
    .where('i.environment', '=', environment)
    .where('i.instance_id', 'in', enrolledIn(db, environment))
    .orderBy('i.instance_id')
    .execute();
  const services = await db
    .selectFrom('instance_services as s')
    .innerJoin('instances as i', 'i.instance_id', 's.instance_id')
    .select(['s.instance_id', 's.service', 's.version', 's.target_version', 's.state', 's.update_error'])
    .where('i.environment', '=', environment)
    .where('i.instance_id', 'in', enrolledIn(db, environment))
    .execute();
  const byInstance = new Map<string, ObservedService[]>();
  for (const s of services) {
    const list = byInstance.get(s.instance_id) ?? [];
    list.push({
      service: s.service,
      version: s.version,
      targetVersion: s.target_version,
      state: s.state,
      updateError: s.update_error,
    });
    byInstance.set(s.instance_id, list);
  }
  return instances.map((i) => ({
    instanceId: i.instance_id,
    labels: JSON.parse(i.labels) as Record<string, string>,
    lastSeenAt: i.last_seen_at,
    services: byInstance.get(i.instance_id) ?? [],
  }));
}

/** The version map of one revision, read directly so this feature needs no import of the desired store. */
export async function revisionVersions(
  db: Kysely<Tables>,
  environment: string,
  revision: number,
): Promise<Record<string, string> | undefined> {
  const row = await db
    .selectFrom('desired_revisions')
    .select('versions')
    .where('env', '=', environment)
    .where('revision', '=', revision)
    .executeTakeFirst();
  return row && (JSON.parse(row.versions) as Record<string, string>);
}

/** Versions of the base and target revisions of every active rollout (they must stay in the catalog). */
export async function activeRolloutVersions(db: Kysely<Tables>): Promise<Array<Record<string, string>>> {
  const rows = await db
    .selectFrom('rollouts as r')
    .innerJoin('desired_revisions as d', (j) =>
      j
        .onRef('d.env', '=', 'r.environment')
        .on((eb) =>
          eb.or([eb('d.revision', '=', eb.ref('r.base_revision')), eb('d.revision', '=', eb.ref('r.target_revision'))]),
        ),
    )
    .select('d.versions')
    .where('r.state', 'in', [...activeStates])
    .execute();
  return rows.map((r) => JSON.parse(r.versions) as Record<string, string>);
}

export function isActive(state: RolloutState): boolean {
  return activeStates.includes(state);
}
