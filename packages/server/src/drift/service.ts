import type { OpvicAgentPayload, OpvicRemoteVersion } from '@flotilla/protocol';
import type { Kysely } from 'kysely';
import type { Tables } from '../db/tables.ts';
import { DriftStore, type SubjectFilter, type SubjectRow, type UpstreamReference } from './store.ts';

/** A place silent this long is shown stale (Opvic's agents report every few minutes). */
export const defaultStaleAfterMs = 10 * 60_000;
/** A place silent this long is forgotten; constants until an operator needs them as options. */
export const defaultRemoveAfterMs = 7 * 24 * 3_600_000;
export const expiryIntervalMs = 60_000;

export interface DriftServiceOptions {
  db: Kysely<Tables>;
  staleAfterMs?: number;
  removeAfterMs?: number;
  now?: () => number;
}

/** A subject row as the API answers it: times as ISO strings. */
export interface DriftItem extends Omit<SubjectRow, 'reportedAt' | 'changedAt' | 'staleSince'> {
  reportedAt: string;
  changedAt: string;
  staleSince: string | null;
}

const iso = (ms: number) => new Date(ms).toISOString();
const toItem = (r: SubjectRow): DriftItem => ({
  ...r,
  reportedAt: iso(r.reportedAt),
  changedAt: iso(r.changedAt),
  staleSince: r.staleSince === null ? null : iso(r.staleSince),
});

// Opvic's agent sends Go zero values ("") for unset fields; they mean "not set" here.
function upstreamOf(r: OpvicRemoteVersion | null | undefined): UpstreamReference | null {
  if (!r?.provider) return null;
  const out: UpstreamReference = { provider: r.provider };
  if (r.strategy) out.strategy = r.strategy;
  if (r.repo) out.repo = r.repo;
  if (r.chart) out.chart = r.chart;
  const regex = r.extraction?.regex;
  if (regex?.pattern)
    out.extraction = { regex: { pattern: regex.pattern, ...(regex.result ? { result: regex.result } : {}) } };
  if (r.constraint) out.constraint = r.constraint;
  return out;
}

export function createDriftService(opts: DriftServiceOptions) {
  const store = new DriftStore(opts.db);
  const now = opts.now ?? Date.now;
  const staleAfterMs = opts.staleAfterMs ?? defaultStaleAfterMs;
  const removeAfterMs = opts.removeAfterMs ?? defaultRemoveAfterMs;

  return {
    /** One Opvic agent report; the environment is the reporting credential's, never the payload's. */
    async ingest(environment: string, payload: OpvicAgentPayload): Promise<void> {
      const v = payload.version;
      await store.upsertReport(
        payload.agentId,
        environment,
        payload.agentTags ?? {},
        {
          subject: v.id,
          namespace: v.namespace || null,
          versions: (v.versions ?? []).map((r) => ({
            runningVersion: r.runningVersion,
            resourceCount: r.resourceCount,
            ...(r.resourceKind ? { resourceKind: r.resourceKind } : {}),
            ...(r.extractedFrom ? { extractedFrom: r.extractedFrom } : {}),
          })),
          upstream: upstreamOf(v.remoteVersion),
        },
        now(),
      );
    },

    async list(f: SubjectFilter): Promise<{ items: DriftItem[]; next: string | null }> {
      const page = await store.list(f);
      return { items: page.items.map(toItem), next: page.next };
    },

    async where(subject: string, version?: string): Promise<{ items: DriftItem[] }> {
      return { items: (await store.where(subject, version)).map(toItem) };
    },

    expire: () => store.expire(now(), staleAfterMs, removeAfterMs),

    /** Runs `expire` now and every `intervalMs` (one run at a time); the returned stop waits for a run under way. */
    startExpiry(onError: (err: unknown) => void, intervalMs = expiryIntervalMs): () => Promise<void> {
      let running: Promise<unknown> = Promise.resolve();
      const run = () => {
        running = running.then(() => store.expire(now(), staleAfterMs, removeAfterMs)).catch(onError);
      };
      run();
      const timer = setInterval(run, intervalMs);
      timer.unref();
      return async () => {
        clearInterval(timer);
        await running;
      };
    },
  };
}

export type DriftService = ReturnType<typeof createDriftService>;
