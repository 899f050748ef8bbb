// Host trackers per environment: `flotilla drift apply` writes them (validated, audited), agents
// fetch them signed, because a tracker makes a host run a command or read a file.
import { createHash, sign } from 'node:crypto';
import {
  canonicalJson,
  hostStrategies,
  parseTracker,
  type SignedTrackerSet,
  type TrackerStatement,
  type VersionTracker,
} from '@flotilla/protocol';
import { compileExtraction } from '@flotilla/protocol/drift-extraction';
import type { Kysely } from 'kysely';
import { recordAudit } from '../audit/audit-log.ts';
import { actorLabel, type Principal } from '../auth/tokens.ts';
import type { SigningKeyPair } from '../catalog/signing.ts';
import type { Tables } from '../db/tables.ts';
import { desiredValidityMs } from '../desired/signed-desired.ts';
import { Invalid, NotFound } from '../errors.ts';
import { type ApplyOutcome, fingerprintOf, type StoredTracker, TrackerStore } from './tracker-store.ts';
import { constraintProblem } from './versions.ts';

/** At most this many host trackers per environment, each at most this many bytes of JSON. */
export const trackerLimits = { perEnvironment: 200, trackerBytes: 16 * 1024, bodyBytes: 1024 * 1024 } as const;

export type { TrackerStatement } from '@flotilla/protocol';

const hostOnly = new Set<string>(hostStrategies);
const checks = {
  extraction: (e: Parameters<typeof compileExtraction>[0]) => {
    try {
      compileExtraction(e);
      return undefined;
    } catch (err) {
      return (err as Error).message;
    }
  },
  constraint: constraintProblem,
};

/**
 * Validates each document as a host tracker; every problem is `trackers[i].<path>: <reason>`.
 * Throws Invalid listing them all.
 */
export function validateHostTrackers(docs: unknown[]): VersionTracker[] {
  const problems: string[] = [];
  const out: VersionTracker[] = [];
  const names = new Map<string, number>();
  const subjects = new Map<string, number>();
  docs.forEach((doc, i) => {
    const at = `trackers[${i}]`;
    const strategy = (doc as { spec?: { resources?: { strategy?: unknown } } } | null)?.spec?.resources?.strategy;
    if (typeof strategy !== 'string' || !hostOnly.has(strategy)) {
      const what = strategy === undefined ? 'the default Pods' : JSON.stringify(strategy);
      problems.push(
        `${at}.spec.resources.strategy: ${what} is not a host strategy: host trackers use Command, File or Package, and Kubernetes trackers are VersionTracker custom resources applied to the cluster (read by flotilla drift-agent)`,
      );
      return;
    }
    const parsed = parseTracker(doc, checks);
    if (!parsed.tracker) {
      problems.push(...parsed.errors.map((e) => `${at}.${e}`));
      return;
    }
    const t = parsed.tracker;
    const bytes = Buffer.byteLength(JSON.stringify(t));
    if (bytes > trackerLimits.trackerBytes) {
      problems.push(`${at}: ${bytes} bytes of JSON, limit ${trackerLimits.trackerBytes}`);
    }
    const twin = names.get(t.metadata.name);
    if (twin !== undefined) problems.push(`${at}.metadata.name: "${t.metadata.name}" is also trackers[${twin}]`);
    const same = subjects.get(t.spec.name);
    if (same !== undefined)
      problems.push(`${at}.spec.name: subject "${t.spec.name}" is also tracked by trackers[${same}]`);
    names.set(t.metadata.name, i);
    subjects.set(t.spec.name, i);
    out.push(t);
  });
  if (problems.length > 0) throw new Invalid(problems.join('; '));
  return out;
}

export interface TrackerServiceDeps {
  db: Kysely<Tables>;
  key: () => SigningKeyPair;
  /** Wakes the environment's agents (their desired long poll), so they fetch the new set at once. */
  notify?: (environment: string) => void;
  now?: () => number;
}

const etagOf = (environment: string, print: string) =>
  `"trk-${createHash('sha256').update(`${environment}\n${print}`).digest('hex').slice(0, 32)}"`;

export type TrackerService = ReturnType<typeof createTrackerService>;

export function createTrackerService(deps: TrackerServiceDeps) {
  const { db } = deps;
  const store = new TrackerStore(db);
  const now = deps.now ?? Date.now;

  const requireEnvironment = async (q: Kysely<Tables>, environment: string) => {
    const env = await q.selectFrom('environments').select('name').where('name', '=', environment).executeTakeFirst();
    if (!env) throw new NotFound(`no environment "${environment}"`);
  };

  return {
    async list(environment: string): Promise<StoredTracker[]> {
      await requireEnvironment(db, environment);
      return store.list(environment);
    },

    /** Like `kubectl apply`: upserts the given trackers; `prune` removes the environment's others. */
    async apply(actor: Principal, environment: string, docs: unknown[], prune: boolean): Promise<ApplyOutcome> {
      const trackers = validateHostTrackers(docs);
      const outcome = await db.transaction().execute(async (tx) => {
        await requireEnvironment(tx, environment);
        const result = await store.apply(tx, environment, trackers, prune, actorLabel(actor), now());
        const total = (await store.list(environment, tx)).length;
        if (total > trackerLimits.perEnvironment) {
          throw new Invalid(
            `trackers: environment "${environment}" would have ${total} host trackers, limit ${trackerLimits.perEnvironment}`,
          );
        }
        const bySubject = new Map<string, string>();
        for (const t of await store.list(environment, tx)) {
          const other = bySubject.get(t.tracker.spec.name);
          if (other) {
            throw new Invalid(
              `trackers: "${t.name}" and "${other}" both track subject "${t.tracker.spec.name}" in environment "${environment}"`,
            );
          }
          bySubject.set(t.tracker.spec.name, t.name);
        }
        if (result.created.length + result.updated.length + result.pruned.length > 0) {
          await recordAudit(tx, { actor, action: 'drift.trackers.apply', target: `env:${environment}`, after: result });
        }
        return result;
      });
      if (outcome.created.length + outcome.updated.length + outcome.pruned.length > 0) deps.notify?.(environment);
      return outcome;
    },

    async remove(actor: Principal, environment: string, name: string): Promise<void> {
      await db.transaction().execute(async (tx) => {
        await requireEnvironment(tx, environment);
        const before = await store.delete(tx, environment, name);
        if (!before) throw new NotFound(`no host tracker "${name}" in environment "${environment}"`);
        await recordAudit(tx, {
          actor,
          action: 'drift.tracker.delete',
          target: `env:${environment}`,
          before: before.tracker,
        });
      });
      deps.notify?.(environment);
    },

    /** The agents' ETag of an environment's set: names and update times only, no documents read. */
    async etag(environment: string): Promise<string> {
      return etagOf(environment, await store.fingerprint(environment));
    },

    /** The environment's set, signed for the agent, with the ETag of exactly what was read. */
    async signed(environment: string): Promise<SignedTrackerSet & { etag: string }> {
      const rows = await store.list(environment);
      const trackers = rows.map((t) => t.tracker);
      const etag = etagOf(environment, fingerprintOf(rows));
      const at = now();
      const statement: TrackerStatement = {
        kind: 'flotilla.drift-trackers',
        environment,
        revision: etag.replace(/"/g, ''),
        trackers,
        issuedAt: new Date(at).toISOString(),
        expiresAt: new Date(at + desiredValidityMs).toISOString(),
      };
      const bytes = canonicalJson(statement);
      const key = deps.key();
      return {
        etag,
        statement: bytes,
        signature: sign(null, Buffer.from(bytes, 'utf8'), key.privateKey).toString('base64'),
        keyId: key.keyId,
      };
    },
  };
}
