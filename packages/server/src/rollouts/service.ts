import { randomBytes, randomUUID } from 'node:crypto';
import type { RolloutStart } from '@flotilla/protocol';
import type { Kysely } from 'kysely';
import { recordAudit } from '../audit/audit-log.ts';
import { authorName, type Principal } from '../auth/tokens.ts';
import type { Tables } from '../db/tables.ts';
import { catalogLookup } from '../desired/catalog-lookup.ts';
import { createDesiredService, type DesiredService } from '../desired/service.ts';
import { Conflict, Invalid, NotFound } from '../errors.ts';
import { admitInto } from './assignment.ts';
import {
  countOutcomes,
  evaluate,
  judgeInstance,
  type Outcome,
  type RolloutPolicy,
  type RolloutState,
  type TargetChange,
  type WaveCounts,
} from './evaluate.ts';
import * as store from './store.ts';
import { changesBetween, transition } from './transition.ts';
import { assignWave, normalizeWaves } from './waves.ts';

export type RolloutAction = 'pause' | 'resume' | 'approve' | 'abort';

/** The actor credited with transitions the evaluator makes on its own. */
export const evaluatorActor: Principal = { tokenId: 'rollout-evaluator', name: 'rollout-evaluator', role: 'admin' };

/** What the target revision changes relative to the base: what a wave's instances must reach. */
export function targetChange(base: Record<string, string>, target: Record<string, string>): TargetChange {
  const versions: Record<string, string> = {};
  for (const [service, version] of Object.entries(target)) if (base[service] !== version) versions[service] = version;
  return { versions, removed: Object.keys(base).filter((s) => !Object.hasOwn(target, s)) };
}

/** The version maps of a rollout's base and target revisions (empty once the environment is gone). */
async function revisionsOf(db: Kysely<Tables>, rollout: store.RolloutRow) {
  return {
    base: (await store.revisionVersions(db, rollout.environment, rollout.baseRevision)) ?? {},
    target: (await store.revisionVersions(db, rollout.environment, rollout.targetRevision)) ?? {},
  };
}

/** Per-wave counts of a rollout, judged from what the environment's instances last reported. */
export async function waveCounts(
  db: Kysely<Tables>,
  rollout: store.RolloutRow,
  now: number,
  instances?: store.InstanceObservation[],
  versions?: { base: Record<string, string>; target: Record<string, string> },
): Promise<WaveCounts[]> {
  const { base, target } = versions ?? (await revisionsOf(db, rollout));
  const change = targetChange(base, target);
  const outcomes: Outcome[][] = rollout.waves.map(() => []);
  for (const inst of instances ?? (await store.environmentInstances(db, rollout.environment))) {
    outcomes[assignWave(rollout.waves, rollout.seed, inst, rollout.admitted)]?.push(judgeInstance(inst, change, now));
  }
  return outcomes.map(countOutcomes);
}

/**
 * Applies `evaluate` to every active rollout and persists each transition in its own transaction;
 * `notify` wakes the long polls of an environment whose assignments changed. Returns the ids moved.
 */
export async function evaluateRollouts(
  db: Kysely<Tables>,
  now: Date = new Date(),
  opts: { notify?: (environment: string) => void; desired?: DesiredService; onError?: (err: unknown) => void } = {},
): Promise<string[]> {
  const moved: string[] = [];
  for (const rollout of await store.listActiveRollouts(db)) {
    if (rollout.state !== 'running') continue;
    try {
      if (await evaluateOne(db, rollout, now, opts.desired)) {
        moved.push(rollout.id);
        opts.notify?.(rollout.environment);
      }
    } catch (err) {
      // One broken rollout must not stop the others; the next round tries it again.
      if (!opts.onError) throw err;
      opts.onError(err);
    }
  }
  return moved;
}

async function evaluateOne(
  db: Kysely<Tables>,
  rollout: store.RolloutRow,
  now: Date,
  desired?: DesiredService,
): Promise<boolean> {
  const at = now.toISOString();
  if ((await store.revisionVersions(db, rollout.environment, rollout.targetRevision)) === undefined) {
    // The environment was deleted: there is nothing left to roll back.
    const reason = 'environment deleted';
    const to = { state: 'aborted' as const, currentWave: rollout.currentWave, reason };
    return db.transaction().execute((tx) => transition(tx, evaluatorActor, rollout, to, at));
  }
  const instances = await store.environmentInstances(db, rollout.environment);
  const take = admitInto(rollout.waves, rollout.seed, rollout.admitted, rollout.currentWave, instances, now.getTime());
  if (take) {
    // Judged on the next round, with the instance in it; an empty wave would otherwise pass at once.
    return db.transaction().execute(async (tx) => {
      if (!(await store.admitInstance(tx, rollout, take.admitted, at))) return false;
      await store.insertEvent(tx, rollout.id, {
        at,
        from: rollout.state,
        to: rollout.state,
        wave: rollout.currentWave,
        actor: authorName(evaluatorActor),
        reason: `wave ${rollout.currentWave + 1} had no instance of its own; took ${take.instanceId}`,
      });
      return true;
    });
  }
  const counts = (await waveCounts(db, rollout, now.getTime(), instances))[rollout.currentWave] as WaveCounts;
  const next = evaluate(
    {
      state: rollout.state,
      currentWave: rollout.currentWave,
      waveCount: rollout.waves.length,
      waveStartedAt: Date.parse(rollout.waveStartedAt),
    },
    rollout.policy,
    counts,
    now.getTime(),
  );
  if (!next) return false;
  if (next.state === 'aborted') return abortInto(db, evaluatorActor, rollout, next.reason, at, desired);
  return db.transaction().execute((tx) => transition(tx, evaluatorActor, rollout, next, at));
}

/** Aborts a rollout and writes a new revision equal to the base, in one transaction. */
async function abortInto(
  db: Kysely<Tables>,
  actor: Principal,
  rollout: store.RolloutRow,
  reason: string,
  at: string,
  desired?: DesiredService,
): Promise<boolean> {
  // The evaluator has no desired service of its own; one over the same store writes the same revision.
  desired ??= createDesiredService({ db, lookup: catalogLookup });
  let moved = false;
  await desired.rollback(
    actor,
    rollout.environment,
    { revision: rollout.baseRevision, comment: `rollout ${rollout.id} aborted` },
    {
      duringRollout: true,
      inTransaction: async (tx) => {
        moved = await transition(
          tx,
          actor,
          rollout,
          { state: 'aborted', currentWave: rollout.currentWave, reason },
          at,
        );
        if (!moved) throw new Conflict(`rollout ${rollout.id} changed meanwhile; reload and retry`);
      },
    },
  );
  return moved;
}

export type RolloutService = ReturnType<typeof createRolloutService>;

export function createRolloutService(deps: {
  db: Kysely<Tables>;
  desired: DesiredService;
  notify?: (environment: string) => void;
  now?: () => Date;
}) {
  const { db, desired } = deps;
  const now = () => deps.now?.() ?? new Date();

  async function requireRollout(id: string): Promise<store.RolloutRow> {
    const rollout = await store.getRollout(db, id);
    if (!rollout) throw new NotFound(`no rollout "${id}"`);
    return rollout;
  }

  async function view(rollout: store.RolloutRow) {
    const versions = await revisionsOf(db, rollout);
    const counts = await waveCounts(db, rollout, now().getTime(), undefined, versions);
    const { policy, admitted: _admitted, ...rest } = rollout;
    return {
      ...rest,
      ...policy,
      // Computed here once, so every card can name the change without fetching both revisions.
      changes: changesBetween(versions.base, versions.target),
      waves: rollout.waves.map((wave, index) => ({ index, wave, ...(counts[index] as WaveCounts) })),
      history: await store.listEvents(db, rollout.id),
    };
  }

  return {
    async start(actor: Principal, env: string, input: RolloutStart) {
      const waves = normalizeWaves(input.waves);
      const policy: RolloutPolicy = {
        successThreshold: input.successThreshold ?? 0.95,
        errorThreshold: input.errorThreshold ?? 0.1,
        onError: input.onError ?? 'pause',
        requireApproval: input.requireApproval ?? false,
        minWaveSeconds: input.minWaveSeconds ?? 0,
      };
      for (const key of ['successThreshold', 'errorThreshold'] as const) {
        if (!(policy[key] > 0 && policy[key] <= 1)) throw new Invalid(`${key} must be in (0, 1]`);
      }
      const id = randomUUID();
      const at = now().toISOString();
      // The target revision, the rollout and its first history entry commit together.
      await desired.editDesired(
        actor,
        env,
        { set: input.set, remove: input.remove, comment: input.comment ?? `rollout ${id}` },
        {
          inTransaction: async (tx, written, previous) => {
            const seed = input.seed ?? randomBytes(16).toString('hex');
            // The first wave starts with an instance even when none falls in its share.
            const instances = await store.environmentInstances(tx, env);
            const first = admitInto(waves, seed, {}, 0, instances, Date.parse(at));
            const row: store.RolloutRow = {
              id,
              environment: env,
              state: 'running',
              baseRevision: previous.revision,
              targetRevision: written.revision,
              seed,
              waves,
              currentWave: 0,
              admitted: first?.admitted ?? {},
              policy,
              comment: input.comment ?? null,
              createdBy: authorName(actor),
              createdAt: at,
              waveStartedAt: at,
              updatedAt: at,
              finishedAt: null,
            };
            await store.insertRollout(tx, row);
            await store.insertEvent(tx, id, {
              at,
              from: null,
              to: 'running',
              wave: 0,
              actor: authorName(actor),
              reason:
                `started: revision ${previous.revision} → ${written.revision}` +
                (first ? `; wave 1 had no instance of its own; took ${first.instanceId}` : ''),
            });
            await recordAudit(tx, {
              actor,
              action: 'rollout.start',
              target: `env:${env}`,
              after: { rollout: id, baseRevision: previous.revision, targetRevision: written.revision, waves, policy },
            });
          },
        },
      );
      return view(await requireRollout(id));
    },

    async act(actor: Principal, id: string, action: RolloutAction) {
      const rollout = await requireRollout(id);
      const at = now().toISOString();
      const refuse = (): never => {
        throw new Conflict(`cannot ${action} rollout ${id}: it is ${rollout.state}`);
      };
      let moved: boolean;
      if (action === 'abort') {
        if (!store.isActive(rollout.state)) refuse();
        moved = await abortInto(db, actor, rollout, `aborted by ${authorName(actor)}`, at, desired);
      } else {
        const to = {
          pause: rollout.state === 'running' || rollout.state === 'waiting_approval' ? 'paused' : undefined,
          resume: rollout.state === 'paused' ? 'running' : undefined,
          approve: rollout.state === 'waiting_approval' ? 'running' : undefined,
        }[action] as RolloutState | undefined;
        if (!to) refuse();
        const wave = action === 'approve' ? rollout.currentWave + 1 : rollout.currentWave;
        const reason = `${action} by ${authorName(actor)}`;
        moved = await db
          .transaction()
          .execute((tx) =>
            transition(tx, actor, rollout, { state: to as RolloutState, currentWave: wave, reason }, at),
          );
      }
      if (!moved) throw new Conflict(`rollout ${id} changed meanwhile; reload and retry`);
      deps.notify?.(rollout.environment);
      return view(await requireRollout(id));
    },

    get: async (id: string) => view(await requireRollout(id)),

    async list(env: string, opts: { limit?: number; active?: boolean } = {}) {
      await desired.getEnvironment(env);
      if (opts.active) {
        const found = await store.activeRollout(db, env);
        return found ? [await view(found)] : [];
      }
      return Promise.all((await store.listRollouts(db, env, opts.limit ?? 50)).map(view));
    },

    evaluateNow: (at: Date = now()) => evaluateRollouts(db, at, { notify: deps.notify, desired }),
  };
}
