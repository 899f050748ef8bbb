import type { ErrorRollout, RolloutChange } from '@flotilla/protocol';
import type { Kysely } from 'kysely';
import { recordAudit } from '../audit/audit-log.ts';
import { authorName, type Principal } from '../auth/tokens.ts';
import type { Tables } from '../db/tables.ts';
import { diffVersions } from '../desired/diff.ts';
import type { RolloutState } from './evaluate.ts';
import * as store from './store.ts';

// Shared by the rollout service and the desired service (a rollback that aborts the rollout in its
// own transaction), so neither imports the other.

/** One transition with its history entry and audit record (pass a transaction); false when it lost a race. */
export async function transition(
  tx: Kysely<Tables>,
  actor: Principal,
  rollout: store.RolloutRow,
  to: { state: RolloutState; currentWave: number; reason: string | null },
  at: string,
): Promise<boolean> {
  const moved = await store.moveRollout(tx, rollout.id, rollout, {
    state: to.state,
    currentWave: to.currentWave,
    waveStartedAt: to.currentWave !== rollout.currentWave ? at : undefined,
    at,
    finished: to.state === 'completed' || to.state === 'aborted',
  });
  if (!moved) return false;
  await store.insertEvent(tx, rollout.id, {
    at,
    from: rollout.state,
    to: to.state,
    wave: to.currentWave,
    actor: authorName(actor),
    reason: to.reason,
  });
  await recordAudit(tx, {
    actor,
    action: `rollout.${to.state}`,
    target: `env:${rollout.environment}`,
    before: { rollout: rollout.id, state: rollout.state, wave: rollout.currentWave },
    after: { rollout: rollout.id, state: to.state, wave: to.currentWave, reason: to.reason },
  });
  return true;
}

/** What going from `base` to `target` changes, one entry per service, by service name. */
export function changesBetween(base: Record<string, string>, target: Record<string, string>): RolloutChange[] {
  const diff = diffVersions(base, target);
  return [
    ...diff.changed.map((c) => ({ service: c.service, from: c.from, to: c.to })),
    ...diff.added.map((a) => ({ service: a.service, from: null, to: a.version })),
    ...diff.removed.map((r) => ({ service: r.service, from: r.version, to: null })),
  ].sort((x, y) => (x.service < y.service ? -1 : x.service > y.service ? 1 : 0));
}

/** `web 1.1.0 → 1.2.0, api 2.0.0 removed`: a rollout's change in words. */
export function describeChanges(changes: RolloutChange[]): string {
  if (changes.length === 0) return 'no change';
  return changes
    .map((c) =>
      c.from === null
        ? `${c.service} ${c.to} added`
        : c.to === null
          ? `${c.service} ${c.from} removed`
          : `${c.service} ${c.from} → ${c.to}`,
    )
    .join(', ');
}

/** The rollout's change, read from its base and target revisions. */
export async function rolloutChanges(db: Kysely<Tables>, rollout: store.RolloutRow): Promise<RolloutChange[]> {
  const base = (await store.revisionVersions(db, rollout.environment, rollout.baseRevision)) ?? {};
  const target = (await store.revisionVersions(db, rollout.environment, rollout.targetRevision)) ?? {};
  return changesBetween(base, target);
}

/** How an error names a rollout that stands in the way. */
export async function errorRollout(db: Kysely<Tables>, rollout: store.RolloutRow): Promise<ErrorRollout> {
  return {
    id: rollout.id,
    environment: rollout.environment,
    state: rollout.state,
    changes: await rolloutChanges(db, rollout),
  };
}
