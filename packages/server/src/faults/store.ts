import { type Kysely, sql } from 'kysely';
import type { Tables } from '../db/tables.ts';
import type { FaultReportsTable } from './tables.ts';

export interface FaultRow {
  id: string;
  receivedAt: number;
  time: number;
  environment: string;
  instanceId: string;
  service: string;
  version: string | null;
  reason: string;
  exitCode: number | null;
  signal: string | null;
  size: number;
  digest: string;
  files: string[];
  state: Record<string, unknown>;
  logTail: string[];
}

export interface FaultFilter {
  service?: string;
  instanceId?: string;
  environment?: string;
  /** Epoch ms, inclusive. */
  from?: number;
  /** Epoch ms, exclusive. */
  to?: number;
  /** Keyset paging: only reports older than this (time, id). */
  before?: { time: number; id: string };
  limit: number;
}

function toRow(r: FaultReportsTable): FaultRow {
  return {
    id: r.id,
    receivedAt: Number(r.received_at),
    time: Number(r.time),
    environment: r.environment,
    instanceId: r.instance_id,
    service: r.service,
    version: r.version,
    reason: r.reason,
    exitCode: r.exit_code === null ? null : Number(r.exit_code),
    signal: r.signal,
    size: Number(r.size),
    digest: r.digest,
    files: JSON.parse(r.files) as string[],
    state: JSON.parse(r.state) as Record<string, unknown>,
    logTail: r.log_tail === '' ? [] : r.log_tail.split('\n'),
  };
}

export async function insertFault(db: Kysely<Tables>, row: FaultRow): Promise<void> {
  await db
    .insertInto('fault_reports')
    .values({
      id: row.id,
      received_at: row.receivedAt,
      time: row.time,
      environment: row.environment,
      instance_id: row.instanceId,
      service: row.service,
      version: row.version,
      reason: row.reason,
      exit_code: row.exitCode,
      signal: row.signal,
      size: row.size,
      digest: row.digest,
      files: JSON.stringify(row.files),
      state: JSON.stringify(row.state),
      log_tail: row.logTail.join('\n'),
    })
    .execute();
}

/** Newest first (time, then id, both descending), without the state and log tail. */
export async function listFaults(db: Kysely<Tables>, f: FaultFilter): Promise<FaultRow[]> {
  let q = db.selectFrom('fault_reports').selectAll();
  if (f.service !== undefined) q = q.where('service', '=', f.service);
  if (f.instanceId !== undefined) q = q.where('instance_id', '=', f.instanceId);
  if (f.environment !== undefined) q = q.where('environment', '=', f.environment);
  if (f.from !== undefined) q = q.where('time', '>=', f.from);
  if (f.to !== undefined) q = q.where('time', '<', f.to);
  if (f.before !== undefined) {
    const { time, id } = f.before;
    q = q.where((eb) => eb.or([eb('time', '<', time), eb.and([eb('time', '=', time), eb('id', '<', id)])]));
  }
  const rows = await q.orderBy('time', 'desc').orderBy('id', 'desc').limit(f.limit).execute();
  return rows.map(toRow);
}

export async function getFault(db: Kysely<Tables>, id: string): Promise<FaultRow | undefined> {
  const row = await db.selectFrom('fault_reports').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? toRow(row) : undefined;
}

/** Ids of reports received before `cutoff` (epoch ms). */
export async function faultsReceivedBefore(db: Kysely<Tables>, cutoff: number): Promise<string[]> {
  const rows = await db.selectFrom('fault_reports').select('id').where('received_at', '<', cutoff).execute();
  return rows.map((r) => r.id);
}

/** (environment, service) pairs holding more than `keep` reports. */
export async function groupsOverCount(
  db: Kysely<Tables>,
  keep: number,
): Promise<Array<{ environment: string; service: string }>> {
  return db
    .selectFrom('fault_reports')
    .select(['environment', 'service'])
    .groupBy(['environment', 'service'])
    .having((eb) => eb.fn.countAll(), '>', keep)
    .execute();
}

/**
 * Ids of an environment's service's reports beyond the newest `keep` by the server's receive time
 * (never the agent-sent `time`, which a wrong clock or a hostile agent can set at will).
 */
export async function faultsBeyondCount(
  db: Kysely<Tables>,
  group: { environment: string; service: string },
  keep: number,
): Promise<string[]> {
  const rows = await db
    .selectFrom('fault_reports')
    .select('id')
    .where('environment', '=', group.environment)
    .where('service', '=', group.service)
    .orderBy('received_at', 'desc')
    .orderBy('id', 'desc')
    .offset(keep)
    // SQLite accepts OFFSET only after a LIMIT; this bound is never reached.
    .limit(1_000_000)
    .execute();
  return rows.map((r) => r.id);
}

/** Deletes rows by id (pass a transaction); returns how many went. */
export async function deleteFaults(db: Kysely<Tables>, ids: string[]): Promise<number> {
  let deleted = 0;
  // Chunks keep each statement under both engines' bound-parameter limits.
  for (let i = 0; i < ids.length; i += 500) {
    const result = await db
      .deleteFrom('fault_reports')
      .where('id', 'in', ids.slice(i, i + 500))
      .executeTakeFirst();
    deleted += Number(result.numDeletedRows);
  }
  return deleted;
}

/** The newest fault of one instance's service, with how many it had since the window's start. */
export interface RecentFaults {
  environment: string;
  instanceId: string;
  service: string;
  count: number;
  newest: Pick<FaultRow, 'id' | 'time' | 'version' | 'reason' | 'exitCode' | 'signal'>;
}

/**
 * Per (environment, instance, service): faults that happened at or after `since` (epoch ms), leaving
 * out the given reasons. One query for a whole fleet; window functions work on SQLite and PostgreSQL.
 */
export async function recentFaultsPerService(
  db: Kysely<Tables>,
  f: { since: number; environment?: string; instanceId?: string; exceptReasons?: string[] },
): Promise<RecentFaults[]> {
  const group = sql`partition by ${sql.ref('environment')}, ${sql.ref('instance_id')}, ${sql.ref('service')}`;
  let inner = db
    .selectFrom('fault_reports')
    .select(['id', 'time', 'environment', 'instance_id', 'service', 'version', 'reason', 'exit_code', 'signal'])
    .select(sql<number | string>`count(*) over (${group})`.as('recent'))
    .select(
      sql<number | string>`row_number() over (${group} order by ${sql.ref('time')} desc, ${sql.ref('id')} desc)`.as(
        'rank',
      ),
    )
    .where('time', '>=', f.since);
  if (f.environment !== undefined) inner = inner.where('environment', '=', f.environment);
  if (f.instanceId !== undefined) inner = inner.where('instance_id', '=', f.instanceId);
  if (f.exceptReasons?.length) inner = inner.where('reason', 'not in', f.exceptReasons);
  const rows = await db.selectFrom(inner.as('f')).selectAll().where('rank', '=', 1).execute();
  return rows.map((r) => ({
    environment: r.environment,
    instanceId: r.instance_id,
    service: r.service,
    count: Number(r.recent),
    newest: {
      id: r.id,
      time: Number(r.time),
      version: r.version,
      reason: r.reason,
      exitCode: r.exit_code === null ? null : Number(r.exit_code),
      signal: r.signal,
    },
  }));
}
