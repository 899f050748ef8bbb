import type {
  DriftItem,
  DriftReport,
  DriftReportAnswer,
  DriftSubjectDetail,
  OpvicAgentPayload,
  OpvicRemoteVersion,
} from '@flotilla/protocol';
import type { Kysely } from 'kysely';
import type { Tables } from '../db/tables.ts';
import { Invalid, NotFound } from '../errors.ts';
import { opvicSubjectVersion, opvicVersionInfos } from './opvic.ts';
import { DriftStore, prepareReport, type SubjectFilter, type SubjectRow, type UpstreamReference } from './store.ts';
import { placeSubjects, placesOf } from './store-queries.ts';
import { DriftReportWriter, type PipelinedCommit } from './writer.ts';

/** A place silent this long is shown stale (Opvic's agents report every few minutes). */
export const defaultStaleAfterMs = 10 * 60_000;
/** A place silent this long is forgotten (`--drift-stale-after`, `--drift-remove-after`). */
export const defaultRemoveAfterMs = 7 * 24 * 3_600_000;
export const expiryIntervalMs = 60_000;

export interface DriftServiceOptions {
  db: Kysely<Tables>;
  /** A durable commit that lets the event loop run while SQLite syncs; a plain transaction without it. */
  commit?: PipelinedCommit;
  staleAfterMs?: number;
  removeAfterMs?: number;
  now?: () => number;
}

const iso = (ms: number) => new Date(ms).toISOString();
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));

/** A row as the API answers it (protocol `DriftItem`): times as ISO strings. */
export function toItem(r: SubjectRow): DriftItem {
  return {
    environment: r.environment,
    place: r.place,
    subject: r.subject,
    namespace: r.namespace,
    tags: r.tags,
    versions: r.versions,
    upstream: r.upstream as DriftItem['upstream'],
    error: r.error,
    latest: r.latest,
    behind: r.behind,
    majorsBehind: r.majorsBehind,
    minorsBehind: r.minorsBehind,
    patchesBehind: r.patchesBehind,
    supportEndsAt: isoOrNull(r.supportEndsAt),
    upstreamKey: r.upstreamKey,
    resolvedAt: isoOrNull(r.resolvedAt),
    resolveError: r.resolveError,
    reportedAt: iso(r.reportedAt),
    changedAt: iso(r.changedAt),
    staleSince: isoOrNull(r.staleSince),
  };
}

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

/** `key:value` pairs of the `tag` filter. */
export function parseTagFilters(values: string[] | string | undefined): Array<[string, string]> | undefined {
  if (values === undefined) return undefined;
  return (Array.isArray(values) ? values : [values]).map((t) => {
    const at = t.indexOf(':');
    if (at < 1) throw new Invalid(`tag: "${t}" is not key:value`);
    return [t.slice(0, at), t.slice(at + 1)];
  });
}

export function createDriftService(opts: DriftServiceOptions) {
  const store = new DriftStore(opts.db);
  const now = opts.now ?? Date.now;
  const staleAfterMs = opts.staleAfterMs ?? defaultStaleAfterMs;
  const removeAfterMs = opts.removeAfterMs ?? defaultRemoveAfterMs;
  if (!(staleAfterMs > 0 && removeAfterMs >= staleAfterMs))
    throw new Invalid('drift expiry needs 0 < stale-after <= remove-after');
  // A place reporting unchanged subjects refreshes its rows at most 4 times per stale period.
  const writer = new DriftReportWriter(opts.db, {
    ...(opts.commit ? { commit: opts.commit } : {}),
    reportedAtResolutionMs: staleAfterMs / 4,
  });

  return {
    /** One Opvic agent report; the environment is the reporting credential's, never the payload's. */
    async ingest(environment: string, payload: OpvicAgentPayload): Promise<void> {
      const v = payload.version;
      const subject = {
        subject: v.id,
        namespace: v.namespace || null,
        versions: (v.versions ?? []).map((r) => ({
          runningVersion: r.runningVersion,
          resourceCount: r.resourceCount,
          ...(r.resourceKind ? { resourceKind: r.resourceKind } : {}),
          ...(r.extractedFrom ? { extractedFrom: r.extractedFrom } : {}),
        })),
        upstream: upstreamOf(v.remoteVersion),
      };
      await writer.submit(
        prepareReport(payload.agentId, environment, payload.agentTags ?? {}, [subject], false, now()),
      );
    },

    /** A batch report (`POST /api/v1/drift/reports`); concurrent ones share a commit. */
    ingestReport(environment: string, report: DriftReport): Promise<DriftReportAnswer> {
      const { agentId, tags, subjects, complete } = report;
      return writer.submit(prepareReport(agentId, environment, tags ?? {}, subjects, complete === true, now()));
    },

    /** Waits for queued reports; later ones are refused. */
    close: () => writer.close(),

    async list(f: SubjectFilter): Promise<{ items: DriftItem[]; next: string | null }> {
      const page = await store.list(f);
      return { items: page.items.map(toItem), next: page.next };
    },

    async where(subject: string, version?: string): Promise<{ items: DriftItem[] }> {
      return { items: (await store.where(subject, version)).map(toItem) };
    },

    /** Every place running `subject`, with the per-version comparison. */
    async detail(subject: string): Promise<DriftSubjectDetail> {
      const rows = await placesOf(opts.db, subject);
      if (rows.length === 0) throw new NotFound(`no place reports the subject "${subject}"`);
      const latest = rows.find((r) => r.latest !== null)?.latest ?? null;
      return { subject, latest, places: rows.map((r) => ({ ...toItem(r), resolution: r.resolution ?? [] })) };
    },

    /** Opvic's `GET /api/v1alpha1/agents/:agent`: the place's subjects in the agent payload's shape. */
    async opvicAgent(place: string, environment?: string) {
      const rows = await placeSubjects(opts.db, place, undefined, environment);
      if (rows.length === 0) throw new NotFound('not found');
      const env = rows[0]?.environment;
      return rows.filter((r) => r.environment === env).map(opvicSubjectVersion);
    },

    /** Opvic's `GET /api/v1alpha1/agents/:agent/:id`; the most recently reported environment wins. */
    async opvicSubject(place: string, subject: string, environment?: string) {
      const [row] = await placeSubjects(opts.db, place, subject, environment);
      if (!row) throw new NotFound('not found');
      return opvicSubjectVersion(row);
    },

    /** Opvic's `…/versions`: 404 until the server has compared the subject, as Opvic's before its reconcile. */
    async opvicVersions(place: string, subject: string, environment?: string) {
      const [row] = await placeSubjects(opts.db, place, subject, environment);
      const infos = row && opvicVersionInfos(row);
      if (!infos) throw new NotFound('not found');
      return infos;
    },

    expire: () => store.expire(now(), staleAfterMs, removeAfterMs),

    /** Runs `expire` now and every `intervalMs` (one run at a time); the returned stop waits for a run under way. */
    startExpiry(
      onError: (err: unknown) => void,
      intervalMs = expiryIntervalMs,
      when: () => boolean = () => true,
    ): () => Promise<void> {
      let running: Promise<unknown> = Promise.resolve();
      const run = () => {
        // Only the replica that leads expires (`when`), so replicas do not write the same rows.
        if (!when()) return;
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
