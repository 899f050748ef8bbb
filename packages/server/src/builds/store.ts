// The builds table: jobs as the API shows them, the FIFO queue's claims and the state changes.
import type { BuildJob, BuildListQuery, BuildSource, BuildState } from '@flotilla/protocol';
import type { Kysely } from 'kysely';
import type { Tables } from '../db/tables.ts';
import type { BuildsTable } from './tables.ts';

export interface NewBuild {
  kind: 'version' | 'client';
  service: string;
  from: string | null;
  consumer: string | null;
  tagSources?: boolean;
  version: string | null;
  sources: BuildSource[];
  macros: Record<string, string>;
  privateFiles: string[];
  setDesired: string | null;
  requestedBy: string;
}

/** The URL without user name or password, as the API shows it (the builder gets it whole). */
export const redactUrl = (url: string) => url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1');

export function toJob(row: BuildsTable, opts: { redact?: boolean } = {}): BuildJob {
  const sources = JSON.parse(row.sources) as BuildSource[];
  return {
    id: Number(row.id),
    kind: row.kind === 'client' ? 'client' : 'version',
    service: row.service,
    from: row.from_version,
    consumer: row.consumer,
    tagSources: Number(row.tag_sources) === 1,
    version: row.version,
    sources: opts.redact === false ? sources : sources.map((s) => ({ ...s, url: redactUrl(s.url) })),
    macros: JSON.parse(row.macros),
    privateFiles: JSON.parse(row.private_files),
    setDesired: row.set_desired,
    state: row.state as BuildState,
    requestedBy: row.requested_by,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    resultVersion: row.result_version,
    error: row.error,
    logBytes: Number(row.log_bytes),
  };
}

export async function insertBuild(db: Kysely<Tables>, job: NewBuild, at: string): Promise<BuildJob> {
  const last = await db
    .selectFrom('builds')
    .select((eb) => eb.fn.max('id').as('id'))
    .executeTakeFirst();
  const row: BuildsTable = {
    id: Number(last?.id ?? 0) + 1,
    kind: job.kind,
    service: job.service,
    from_version: job.from,
    consumer: job.consumer,
    tag_sources: job.tagSources ? 1 : 0,
    version: job.version,
    sources: JSON.stringify(job.sources),
    macros: JSON.stringify(job.macros),
    private_files: JSON.stringify(job.privateFiles),
    set_desired: job.setDesired,
    state: 'queued',
    requested_by: job.requestedBy,
    created_at: at,
    started_at: null,
    finished_at: null,
    result_version: null,
    error: null,
    log_bytes: 0,
    runner: null,
  };
  await db.insertInto('builds').values(row).execute();
  return toJob(row);
}

export async function getBuild(
  db: Kysely<Tables>,
  id: number,
  opts: { redact?: boolean } = {},
): Promise<BuildJob | undefined> {
  const row = await db.selectFrom('builds').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? toJob(row, opts) : undefined;
}

export async function listBuilds(db: Kysely<Tables>, q: BuildListQuery & { consumer?: string }): Promise<BuildJob[]> {
  let query = db.selectFrom('builds').selectAll();
  if (q.consumer) query = query.where('consumer', '=', q.consumer);
  if (q.service) query = query.where('service', '=', q.service);
  if (q.state) query = query.where('state', '=', q.state);
  if (q.kind) query = query.where('kind', '=', q.kind);
  if (q.before) query = query.where('id', '<', q.before);
  const rows = await query
    .orderBy('id', 'desc')
    .limit(q.limit ?? 50)
    .execute();
  return rows.map((r) => toJob(r));
}

/** A consumer's jobs that are queued or running. */
export async function countActiveFor(db: Kysely<Tables>, consumer: string): Promise<number> {
  const row = await db
    .selectFrom('builds')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .where('consumer', '=', consumer)
    .where('state', 'in', ['queued', 'running'])
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function countQueued(db: Kysely<Tables>): Promise<number> {
  const row = await db
    .selectFrom('builds')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .where('state', '=', 'queued')
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** The oldest queued job, marked running, with its sources' URLs whole; undefined when none is queued. */
export async function claimNext(db: Kysely<Tables>, at: string, runner: string): Promise<BuildJob | undefined> {
  for (;;) {
    const next = await db
      .selectFrom('builds')
      .select('id')
      .where('state', '=', 'queued')
      .orderBy('id')
      .limit(1)
      .executeTakeFirst();
    if (!next) return undefined;
    const claimed = await db
      .updateTable('builds')
      .set({ state: 'running', started_at: at, runner })
      .where('id', '=', next.id)
      .where('state', '=', 'queued')
      .executeTakeFirst();
    // Cancelled between the two statements: take the next one.
    if (Number(claimed.numUpdatedRows) === 1) return getBuild(db, Number(next.id), { redact: false });
  }
}

/** Moves a job to a finished state, only from one of `from`; false when it was in none of them. */
export async function finishBuild(
  db: Kysely<Tables>,
  id: number,
  from: BuildState[],
  change: { state: BuildState; at: string; error?: string | null; resultVersion?: string | null; logBytes?: number },
): Promise<boolean> {
  const done = await db
    .updateTable('builds')
    .set({
      state: change.state,
      finished_at: change.at,
      error: change.error ?? null,
      result_version: change.resultVersion ?? null,
      ...(change.logBytes !== undefined ? { log_bytes: change.logBytes } : {}),
    })
    .where('id', '=', id)
    .where('state', 'in', from)
    .executeTakeFirst();
  return Number(done.numUpdatedRows) === 1;
}

export async function setLogBytes(db: Kysely<Tables>, id: number, bytes: number): Promise<void> {
  await db.updateTable('builds').set({ log_bytes: bytes }).where('id', '=', id).execute();
}

/** Jobs this server left running when it stopped: they failed, as their builder died with it. */
export async function failInterrupted(db: Kysely<Tables>, at: string, runner: string): Promise<number[]> {
  const rows = await db
    .selectFrom('builds')
    .select('id')
    .where('state', '=', 'running')
    .where((eb) => eb.or([eb('runner', '=', runner), eb('runner', 'is', null)]))
    .execute();
  if (rows.length === 0) return [];
  await db
    .updateTable('builds')
    .set({ state: 'failed', finished_at: at, error: 'server stopped' })
    .where(
      'id',
      'in',
      rows.map((r) => r.id),
    )
    .where('state', '=', 'running')
    .execute();
  return rows.map((r) => Number(r.id));
}

/** Ended jobs that finished before `before` (ISO time) are deleted; their ids, so their logs go too. */
export async function deleteEndedBefore(db: Kysely<Tables>, before: string): Promise<number[]> {
  const rows = await db
    .selectFrom('builds')
    .select('id')
    .where('state', 'in', ['succeeded', 'failed', 'cancelled'])
    .where('finished_at', '<', before)
    .execute();
  const ids = rows.map((r) => r.id);
  // In slices: PostgreSQL and SQLite bound a statement's parameters.
  for (let i = 0; i < ids.length; i += 500) {
    await db
      .deleteFrom('builds')
      .where('id', 'in', ids.slice(i, i + 500))
      .execute();
  }
  return ids;
}
