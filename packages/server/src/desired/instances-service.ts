import { createHash } from 'node:crypto';
import type { AgentStateReport, InstanceQuery } from '@flotilla/protocol';
import type { Kysely } from 'kysely';
import { batched } from '../db/batched.ts';
import type { Tables } from '../db/tables.ts';
import { Forbidden, Invalid, NotFound } from '../errors.ts';
import type { FeatureDeps } from '../http/feature-deps.ts';
import { allowedServices, requireOwnInstance } from '../identity/scope.ts';
import * as store from './instances-store.ts';

/** Instances not seen for this long are shown as stale (`--instance-expiry`). */
export const defaultInstanceExpiryMs = 5 * 60_000;
/** Instances silent for this long are deleted. */
export const instanceRetentionMs = 30 * 86_400_000;

const maxText = 1024;

export type InstanceService = ReturnType<typeof createInstanceService>;

export function createInstanceService(deps: {
  db: Kysely<Tables>;
  expiryMs?: number;
  now?: () => Date;
  /** A durable commit that syncs off the event loop (SQLite); default: a plain transaction. */
  commit?: FeatureDeps['commitDurably'];
  /** One statement without a transaction where the store allows it (PostgreSQL); default: `commit`. */
  writeOne?: FeatureDeps['writeOne'];
}) {
  const expiryMs = deps.expiryMs ?? defaultInstanceExpiryMs;
  const now = () => deps.now?.() ?? new Date();

  const view = (row: store.InstanceRow, staleBefore: string) => ({ ...row, stale: row.lastSeenAt < staleBefore });
  const commit = deps.commit ?? ((work) => deps.db.transaction().execute(work));
  // Repeated reports of many agents arriving together are one statement and one commit.
  const writeOne = deps.writeOne ?? commit;
  const touchUnchanged = batched((reports: Parameters<typeof store.touchUnchangedReports>[1]) =>
    writeOne((db) => store.touchUnchangedReports(db, reports)),
  );
  // Changed reports too (after a desired-version change every agent's is): one transaction for many.
  // Each answers with what refuses it, so one instance of another environment fails only itself.
  const saveWhole = batched((reports: store.InstanceReport[]) =>
    commit(async (tx) => {
      const existing = await store.findInstanceEnvironments(
        tx,
        reports.map((r) => r.instanceId),
      );
      const refusals = reports.map((r) => {
        const stored = existing.get(r.instanceId);
        return stored === undefined || stored === r.environment
          ? null
          : new Forbidden(
              `instance "${r.instanceId}" belongs to environment "${stored}"; this token is for "${r.environment}"`,
            );
      });
      await store.saveInstanceReports(
        tx,
        reports.filter((_, i) => refusals[i] === null),
      );
      return refusals;
    }),
  );

  return {
    /**
     * Stores an agent's report; environment and profile come from its credential, never from the body.
     * With an instance (the agent API always has one), only that instance's report is taken, and
     * services outside its profile are left out, so they can never count for a rollout.
     */
    async report(
      agent: { environment: string; profile: string | null; instanceId?: string },
      body: AgentStateReport,
    ): Promise<void> {
      let allowed: Set<string> | null = null;
      if (agent.instanceId !== undefined) {
        const scope = { environment: agent.environment, profile: agent.profile, instanceId: agent.instanceId };
        requireOwnInstance(scope, body.instanceId, 'the state report');
        allowed = await allowedServices(deps.db, scope);
      }
      const seen = new Set<string>();
      for (const s of body.services) {
        if (seen.has(s.service)) throw new Invalid(`service "${s.service}" is reported twice`);
        seen.add(s.service);
      }
      // Schemas cap each string; this catches any that slipped through (e.g. label keys).
      for (const [k, v] of Object.entries(body.labels ?? {})) {
        if (k.length > maxText || v.length > maxText) throw new Invalid('labels: keys and values are at most 1 KiB');
      }
      const services = body.services
        .filter((s) => allowed === null || allowed.has(s.service))
        .map((s) => ({
          service: s.service,
          version: s.version ?? null,
          targetVersion: s.targetVersion ?? null,
          state: s.state ?? null,
          updateError: s.updateError ?? null,
          installedAt: s.installedAt ?? null,
          startedAt: s.startedAt ?? null,
          failureCount: s.failureCount ?? 0,
          lastExitCode: s.lastExitCode ?? null,
        }));
      const labels = body.labels ?? {};
      const at = now().toISOString();
      const digest = reportDigest(agent.profile, labels, services);
      const key = { instanceId: body.instanceId, environment: agent.environment, digest, at };
      // Most reports repeat the last one: one statement then, instead of rewriting labels and services.
      if (await touchUnchanged(key)) return;
      const refused = await saveWhole({ ...key, profile: agent.profile, labels, services });
      if (refused) throw refused;
    },

    async list(query: InstanceQuery) {
      const staleBefore = new Date(now().getTime() - expiryMs).toISOString();
      let label: { key: string; value: string } | undefined;
      if (query.label !== undefined) {
        const at = query.label.indexOf('=');
        if (at < 1) throw new Invalid('label must be key=value');
        label = { key: query.label.slice(0, at), value: query.label.slice(at + 1) };
      }
      const limit = query.limit ?? 100;
      const rows = await store.listInstances(deps.db, {
        environment: query.environment,
        service: query.service,
        label,
        stale: query.stale === undefined ? undefined : query.stale === 'true',
        staleBefore,
        after: query.cursor === undefined ? undefined : decodeCursor(query.cursor),
        limit,
      });
      const last = rows.at(-1);
      return {
        instances: rows.map((r) => view(r, staleBefore)),
        nextCursor: rows.length === limit && last ? encodeCursor(last.instanceId) : null,
      };
    },

    async get(instanceId: string) {
      const row = await store.getInstance(deps.db, instanceId);
      if (!row) throw new NotFound(`no instance "${instanceId}"`);
      return view(row, new Date(now().getTime() - expiryMs).toISOString());
    },

    /** Deletes instances silent for the retention period; returns how many. */
    expire: () => store.expireInstances(deps.db, new Date(now().getTime() - instanceRetentionMs)),
  };
}

function encodeCursor(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (id === '') throw new Invalid('cursor is not one this server gave out');
  return id;
}

/** Names one report's content (not its time), so a repeat is told from a change by one comparison. */
function reportDigest(profile: string | null, labels: Record<string, string>, services: unknown[]): string {
  const sortedLabels = Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return createHash('sha256')
    .update(JSON.stringify([profile, sortedLabels, services]))
    .digest('base64url');
}
