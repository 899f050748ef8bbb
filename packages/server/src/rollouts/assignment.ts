import type { Kysely } from 'kysely';
import type { Tables } from '../db/tables.ts';
import { silentAfterMs } from './evaluate.ts';
import { activeRollout, admitInstance, type InstanceObservation, instanceLabels, type RolloutRow } from './store.ts';
import { type Admitted, assignWave, instanceToAdmit, type WaveInstance, type WaveSpec } from './waves.ts';

/** The revision an instance should run under a rollout: the target once its wave has started, else the base. */
export function revisionUnder(rollout: RolloutRow, instance?: { instanceId: string; labels: Record<string, string> }) {
  if (rollout.state === 'completed') return rollout.targetRevision;
  if (!instance) return rollout.baseRevision;
  const wave = assignWave(rollout.waves, rollout.seed, instance, rollout.admitted);
  return wave <= rollout.currentWave ? rollout.targetRevision : rollout.baseRevision;
}

/**
 * The revision an agent should run while its environment has an active rollout; undefined when none is
 * active (then everyone runs the current revision). An agent that does not name itself gets the base.
 */
export async function assignedRevision(
  db: Kysely<Tables>,
  environment: string,
  instanceId?: string,
): Promise<number | undefined> {
  const rollout = await activeRollout(db, environment);
  if (!rollout) return undefined;
  if (instanceId === undefined) return rollout.baseRevision;
  // An instance that has not reported yet has no labels: selector waves do not admit it.
  const labels = (await instanceLabels(db, environment, instanceId)) ?? {};
  const revision = revisionUnder(rollout, { instanceId, labels });
  if (revision === rollout.targetRevision) await holdInWave(db, rollout, { instanceId, labels });
  return revision;
}

/**
 * Keeps an instance that a selector wave served the target in that wave, even if its labels change:
 * agents refuse a revision older than one they applied, so what an instance is served never goes
 * back. Percentage waves depend on the instance id alone and need no record.
 */
async function holdInWave(db: Kysely<Tables>, rollout: RolloutRow, instance: WaveInstance): Promise<void> {
  let at: RolloutRow | undefined = rollout;
  for (let attempt = 0; at && attempt < 3; attempt++) {
    if (Object.hasOwn(at.admitted, instance.instanceId)) return;
    const wave = assignWave(at.waves, at.seed, instance, at.admitted);
    if (wave > at.currentWave || !('selector' in (at.waves[wave] as WaveSpec))) return;
    const admitted = { ...at.admitted, [instance.instanceId]: wave };
    if (await admitInstance(db, at, admitted, new Date().toISOString())) return;
    // The evaluator moved the rollout or took an instance meanwhile: read it again.
    const again = await activeRollout(db, rollout.environment);
    at = again?.id === rollout.id ? again : undefined;
  }
}

/** The admitted map with one more instance when `wave` has no live instance and a later wave has one. */
export function admitInto(
  waves: WaveSpec[],
  seed: string,
  admitted: Admitted,
  wave: number,
  instances: InstanceObservation[],
  now: number,
): { admitted: Admitted; instanceId: string } | undefined {
  const live = instances.filter((i) => Date.parse(i.lastSeenAt) >= now - silentAfterMs);
  const instanceId = instanceToAdmit(waves, seed, admitted, wave, live);
  return instanceId === undefined ? undefined : { admitted: { ...admitted, [instanceId]: wave }, instanceId };
}
