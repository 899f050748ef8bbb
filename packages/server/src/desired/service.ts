import type { Kysely } from 'kysely';
import { recordAudit } from '../audit/audit-log.ts';
import { authorName, type Principal } from '../auth/tokens.ts';
import type { Tables } from '../db/tables.ts';
import { Conflict, Invalid, NotFound, RolloutActive } from '../errors.ts';
import { activeRollout } from '../rollouts/store.ts';
import { describeChanges, errorRollout, transition } from '../rollouts/transition.ts';
import { snapshotEnvironment } from '../trash/restore.ts';
import { putInTrash } from '../trash/store.ts';
import { createAgentViews } from './agent-view.ts';
import type { CatalogLookup } from './catalog-lookup.ts';
import { diffVersions, isEmptyDiff, newlyDesired, sortedVersions, type VersionDiff, type VersionMap } from './diff.ts';
import type { DesiredNotifier } from './long-poll.ts';
import * as store from './store.ts';

const envNameRe = /^[a-z0-9][a-z0-9-]{0,62}$/;
const maxServices = 1000;

export interface DesiredServiceDeps {
  db: Kysely<Tables>;
  lookup: CatalogLookup;
  notifier?: DesiredNotifier;
  now?: () => Date;
}

export interface DesiredEdit {
  set?: Record<string, string>;
  remove?: string[];
  comment?: string;
  expectedRevision?: number;
}

/** Lets another feature (rollouts) write a revision together with its own rows. */
export interface RevisionHooks {
  /** Runs in the revision's transaction after it is written. */
  inTransaction?: (tx: Kysely<Tables>, written: store.RevisionRow, previous: store.RevisionRow) => Promise<void>;
  /** Writes even though a rollout is active (the rollout's own revisions). */
  duringRollout?: boolean;
}

export type DesiredService = ReturnType<typeof createDesiredService>;

/** Environments, their revisioned desired-version lists and the tested gate. */
export function createDesiredService(deps: DesiredServiceDeps) {
  const { db, lookup } = deps;
  const now = () => (deps.now?.() ?? new Date()).toISOString();

  async function requireEnvironment(q: Kysely<Tables>, name: string): Promise<store.EnvironmentRow> {
    const env = await store.getEnvironment(q, name);
    if (!env) throw new NotFound(`no environment "${name}"`);
    return env;
  }

  async function requireRevision(q: Kysely<Tables>, env: string, revision: number): Promise<store.RevisionRow> {
    const rev = await store.getRevision(q, env, revision);
    if (!rev) throw new NotFound(`environment "${env}" has no revision ${revision}`);
    return rev;
  }

  /** Refuses a gate that names an unknown environment, itself, or closes a loop of gates. */
  async function checkGate(q: Kysely<Tables>, name: string, gate: string | null): Promise<void> {
    if (gate === null) return;
    if (gate === name) throw new Invalid(`environment "${name}" cannot require versions tested in itself`);
    const seen = new Set([name]);
    for (let at: string | null = gate; at !== null; ) {
      if (seen.has(at)) throw new Invalid(`requiring versions tested in "${gate}" would make a loop of tested gates`);
      seen.add(at);
      const env = await store.getEnvironment(q, at);
      if (!env) throw new Invalid(`requiresTestedIn: no environment "${at}"`);
      at = env.requiresTestedIn;
    }
  }

  /** Every newly desired version must exist in the catalog and pass the environment's tested gate. */
  async function checkTarget(q: Kysely<Tables>, env: store.EnvironmentRow, from: VersionMap, to: VersionMap) {
    const fresh = newlyDesired(from, to);
    const missing: string[] = [];
    for (const { service, version } of fresh) {
      if (!(await lookup.findVersion(q, service, version))) missing.push(`${service}@${version}`);
    }
    if (missing.length > 0) throw new Invalid(`not in the catalog: ${missing.join(', ')}`);
    if (env.requiresTestedIn) {
      const tested = await store.testedAmong(q, env.requiresTestedIn, fresh);
      const untested = fresh.map((p) => `${p.service}@${p.version}`).filter((key) => !tested.has(key));
      // A precondition of the environment, not a permission: 409, whoever asks.
      if (untested.length > 0) {
        const verb = untested.length === 1 ? 'is' : 'are';
        throw new Conflict(
          `${untested.join(', ')} ${verb} not marked tested in ${env.requiresTestedIn} (${env.name} only takes versions marked tested there)`,
        );
      }
    }
  }

  /** Writes revision N+1 with `to`, in one transaction with its audit entry, then wakes the agents. */
  async function writeRevision(
    actor: Principal,
    envName: string,
    action: string,
    build: (current: store.RevisionRow, q: Kysely<Tables>) => Promise<{ to: VersionMap; comment: string | null }>,
    expectedRevision?: number,
    hooks: RevisionHooks = {},
  ): Promise<store.RevisionRow> {
    // Without expectedRevision a lost race is retried; with it, the caller asked to be told.
    for (let attempt = 0; ; attempt++) {
      try {
        const written = await db.transaction().execute(async (tx) => {
          const env = await requireEnvironment(tx, envName);
          const current = await store.currentRevision(tx, envName);
          if (!current) throw new NotFound(`environment "${envName}" has no desired list`);
          const rollout = hooks.duringRollout ? undefined : await activeRollout(tx, envName);
          if (rollout) {
            const named = await errorRollout(tx, rollout);
            const doing = `${describeChanges(named.changes)}, ${rollout.state.replace('_', ' ')}`;
            throw new RolloutActive(
              `environment "${envName}" has an active rollout (${doing}; id ${rollout.id}): abort it or let it complete first` +
                (action === 'desired.rollback'
                  ? ', or roll back with abortRollout (CLI: --abort-rollout) to abort it in the same step'
                  : ''),
              named,
            );
          }
          if (expectedRevision !== undefined && expectedRevision !== current.revision) {
            throw new Conflict(
              `the desired list of "${envName}" is at revision ${current.revision}, not ${expectedRevision}; reload and retry`,
            );
          }
          const { to, comment } = await build(current, tx);
          if (isEmptyDiff(diffVersions(current.versions, to))) {
            throw new Invalid(`that changes nothing: revision ${current.revision} already has that list`);
          }
          await checkTarget(tx, env, current.versions, to);
          const next: store.RevisionRow = {
            environment: envName,
            revision: current.revision + 1,
            versions: sortedVersions(to),
            author: authorName(actor),
            createdAt: now(),
            comment,
          };
          await store.insertRevision(tx, next);
          await recordAudit(tx, {
            actor,
            action,
            target: `env:${envName}`,
            before: { revision: current.revision, versions: current.versions },
            after: { revision: next.revision, versions: next.versions, comment },
          });
          await hooks.inTransaction?.(tx, next, current);
          return next;
        });
        deps.notifier?.notify(envName);
        return written;
      } catch (err) {
        const raced = err instanceof store.RevisionTaken;
        if (!raced || expectedRevision !== undefined || attempt >= 2) throw err;
      }
    }
  }

  /** Aborts the environment's active rollout, if any, inside the rollback's transaction. */
  function abortingHooks(actor: Principal, env: string, revision: number): RevisionHooks {
    return {
      duringRollout: true,
      inTransaction: async (tx) => {
        const rollout = await activeRollout(tx, env);
        if (!rollout) return;
        const reason = `aborted by ${authorName(actor)} to roll back to revision ${revision}`;
        const to = { state: 'aborted' as const, currentWave: rollout.currentWave, reason };
        if (!(await transition(tx, actor, rollout, to, now()))) {
          throw new Conflict(`rollout ${rollout.id} changed meanwhile; reload and retry`);
        }
      },
    };
  }

  return {
    async createEnvironment(actor: Principal, input: { name: string; requiresTestedIn?: string | null }) {
      if (!envNameRe.test(input.name)) {
        throw new Invalid(`environment names match ${envNameRe.source}; got "${input.name}"`);
      }
      const gate = input.requiresTestedIn ?? null;
      const createdAt = now();
      await db.transaction().execute(async (tx) => {
        await checkGate(tx, input.name, gate);
        await store.insertEnvironment(tx, {
          name: input.name,
          requiresTestedIn: gate,
          createdAt,
          createdBy: authorName(actor),
        });
        // Revision 0 is the empty list, so every environment has a current revision.
        await store.insertRevision(tx, {
          environment: input.name,
          revision: 0,
          versions: {},
          author: authorName(actor),
          createdAt,
          comment: 'environment created',
        });
        await recordAudit(tx, {
          actor,
          action: 'environment.create',
          target: `env:${input.name}`,
          after: { name: input.name, requiresTestedIn: gate },
        });
      });
      return requireEnvironment(db, input.name);
    },

    listEnvironments: () => store.listEnvironments(db),

    getEnvironment: (name: string) => requireEnvironment(db, name),

    async updateEnvironment(actor: Principal, name: string, patch: { requiresTestedIn: string | null }) {
      await db.transaction().execute(async (tx) => {
        const before = await requireEnvironment(tx, name);
        await checkGate(tx, name, patch.requiresTestedIn);
        await store.setRequiresTestedIn(tx, name, patch.requiresTestedIn);
        await recordAudit(tx, {
          actor,
          action: 'environment.update',
          target: `env:${name}`,
          before: { requiresTestedIn: before.requiresTestedIn },
          after: { requiresTestedIn: patch.requiresTestedIn },
        });
      });
      return requireEnvironment(db, name);
    },

    async deleteEnvironment(actor: Principal, name: string): Promise<void> {
      await db.transaction().execute(async (tx) => {
        const before = await requireEnvironment(tx, name);
        const dependents = await store.environmentsRequiring(tx, name);
        if (dependents.length > 0) {
          throw new Conflict(`environments ${dependents.join(', ')} require versions tested in "${name}"`);
        }
        const current = await store.currentRevision(tx, name);
        const snapshot = await snapshotEnvironment(tx, name);
        await store.deleteEnvironment(tx, name);
        await putInTrash(tx, { kind: 'environment', name, data: snapshot, at: now(), by: authorName(actor) });
        await recordAudit(tx, {
          actor,
          action: 'environment.delete',
          target: `env:${name}`,
          before: { ...before, versions: current?.versions ?? {} },
        });
      });
      deps.notifier?.notify(name);
    },

    async getDesired(env: string, revision?: number): Promise<store.RevisionRow> {
      await requireEnvironment(db, env);
      if (revision !== undefined) return requireRevision(db, env, revision);
      const current = await store.currentRevision(db, env);
      if (!current) throw new NotFound(`environment "${env}" has no desired list`);
      return current;
    },

    /** One atomic edit of the whole list: every `set` and `remove` lands in one new revision or none does. */
    async editDesired(
      actor: Principal,
      env: string,
      edit: DesiredEdit,
      hooks?: RevisionHooks,
    ): Promise<store.RevisionRow> {
      const set = edit.set ?? {};
      const remove = edit.remove ?? [];
      if (Object.keys(set).length === 0 && remove.length === 0) {
        throw new Invalid('give "set" and/or "remove": an empty change makes no revision');
      }
      const both = remove.filter((s) => Object.hasOwn(set, s));
      if (both.length > 0) throw new Invalid(`both set and removed: ${both.join(', ')}`);
      return writeRevision(
        actor,
        env,
        'desired.set',
        async (current) => {
          const absent = remove.filter((s) => !Object.hasOwn(current.versions, s));
          if (absent.length > 0) {
            throw new Invalid(`not in the desired list of "${env}", so cannot be removed: ${absent.join(', ')}`);
          }
          const to: VersionMap = { ...current.versions, ...set };
          for (const s of remove) delete to[s];
          if (Object.keys(to).length > maxServices)
            throw new Invalid(`a desired list holds at most ${maxServices} services`);
          return { to, comment: edit.comment ?? null };
        },
        edit.expectedRevision,
        hooks,
      );
    },

    /**
     * Makes an old revision's list current again as a NEW revision; history is never rewritten.
     * With `abortRollout`, an active rollout is aborted in the same transaction (asked for, never implied).
     */
    rollback(
      actor: Principal,
      env: string,
      input: { revision: number; comment?: string; abortRollout?: boolean },
      hooks?: RevisionHooks,
    ) {
      if (input.abortRollout && !hooks) hooks = abortingHooks(actor, env, input.revision);
      return writeRevision(
        actor,
        env,
        'desired.rollback',
        async (_current, q) => {
          const old = await requireRevision(q, env, input.revision);
          return { to: old.versions, comment: input.comment ?? `rollback to revision ${input.revision}` };
        },
        undefined,
        hooks,
      );
    },

    async history(env: string, opts: { limit?: number; before?: number }) {
      await requireEnvironment(db, env);
      return store.listRevisions(db, env, { limit: opts.limit ?? 50, before: opts.before });
    },

    async diff(env: string, from: number, to?: number): Promise<VersionDiff & { from: number; to: number }> {
      await requireEnvironment(db, env);
      const a = await requireRevision(db, env, from);
      const b = to === undefined ? await store.currentRevision(db, env) : await requireRevision(db, env, to);
      if (!b) throw new NotFound(`environment "${env}" has no desired list`);
      return { from: a.revision, to: b.revision, ...diffVersions(a.versions, b.versions) };
    },

    /** Marks every service@version of a revision (default the current one) as tested in `env`. */
    async markTested(actor: Principal, env: string, revision?: number) {
      const result = await db.transaction().execute(async (tx) => {
        await requireEnvironment(tx, env);
        const rev =
          revision === undefined ? await store.currentRevision(tx, env) : await requireRevision(tx, env, revision);
        if (!rev) throw new NotFound(`environment "${env}" has no desired list`);
        const marked = Object.entries(rev.versions).map(([service, version]) => ({ service, version }));
        if (marked.length === 0) throw new Invalid(`revision ${rev.revision} of "${env}" is empty: nothing to mark`);
        await store.insertTestedMarks(tx, env, marked, {
          revision: rev.revision,
          markedBy: authorName(actor),
          markedAt: now(),
        });
        await recordAudit(tx, {
          actor,
          action: 'desired.mark-tested',
          target: `env:${env}`,
          after: { revision: rev.revision, versions: rev.versions },
        });
        return { environment: env, revision: rev.revision, marked };
      });
      return result;
    },

    currentRevisionNumber: (env: string) => store.currentRevisionNumber(db, env),

    ...createAgentViews({ db, lookup }),
  };
}
