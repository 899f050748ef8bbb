import { type Insertable, type Kysely, sql } from 'kysely';
import type { Tables } from '../db/tables.ts';

export interface ServiceReportRow {
  service: string;
  version: string | null;
  targetVersion: string | null;
  state: string | null;
  updateError: string | null;
  installedAt: string | null;
  startedAt: string | null;
  failureCount: number;
  lastExitCode: number | null;
}

export interface InstanceRow {
  instanceId: string;
  environment: string;
  profile: string | null;
  labels: Record<string, string>;
  firstSeenAt: string;
  lastSeenAt: string;
  services: Array<ServiceReportRow & { updatedAt: string }>;
}

export interface InstanceFilter {
  environment?: string;
  service?: string;
  label?: { key: string; value: string };
  /** true: last seen before `staleBefore`; false: at or after it. */
  stale?: boolean;
  staleBefore: string;
  /** Only instance ids greater than this (keyset paging). */
  after?: string;
  limit: number;
}

/** The environment each of these instances is stored in, by instance id. */
export async function findInstanceEnvironments(
  db: Kysely<Tables>,
  instanceIds: string[],
): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (let i = 0; i < instanceIds.length; i += rowsPerStatement) {
    const rows = await db
      .selectFrom('instances')
      .select(['instance_id', 'environment'])
      .where('instance_id', 'in', instanceIds.slice(i, i + rowsPerStatement))
      .execute();
    for (const row of rows) found.set(row.instance_id, row.environment);
  }
  return found;
}

/**
 * Moves `last_seen_at` of each instance whose stored report has the given digest, in its environment,
 * in one statement; false for one that has none (a new instance, a changed report, one stored before
 * digests): save it whole.
 */
export async function touchUnchangedReports(
  tx: Kysely<Tables>,
  reports: Array<{ instanceId: string; environment: string; digest: string; at: string }>,
): Promise<boolean[]> {
  if (reports.length === 0) return [];
  const values = sql.join(reports.map((r) => sql`(${r.instanceId}, ${r.environment}, ${r.digest}, ${r.at})`));
  const result = await sql<{ instance_id: string; environment: string; report_digest: string }>`
    with seen (id, env, digest, at) as (values ${values})
    update instances set last_seen_at = seen.at from seen
    where instances.instance_id = seen.id and instances.environment = seen.env and instances.report_digest = seen.digest
    returning instances.instance_id, instances.environment, instances.report_digest`.execute(tx);
  const key = (id: string, env: string, digest: string) => JSON.stringify([id, env, digest]);
  const touched = new Set(result.rows.map((r) => key(r.instance_id, r.environment, r.report_digest)));
  return reports.map((r) => touched.has(key(r.instanceId, r.environment, r.digest)));
}

export interface InstanceReport {
  instanceId: string;
  environment: string;
  profile: string | null;
  labels: Record<string, string>;
  services: ServiceReportRow[];
  at: string;
  digest: string;
}

// Rows a statement may carry: 11 parameters a service row stays under SQLite's and PostgreSQL's bounds.
const rowsPerStatement = 500;

async function insertChunked<T extends 'instances' | 'instance_labels' | 'instance_services'>(
  tx: Kysely<Tables>,
  table: T,
  rows: Insertable<Tables[T]>[],
): Promise<void> {
  for (let i = 0; i < rows.length; i += rowsPerStatement) {
    await tx
      .insertInto(table)
      .values(rows.slice(i, i + rowsPerStatement) as never)
      .execute();
  }
}

/**
 * Replaces what is known of these instances with their latest reports, a few statements for all of
 * them (pass a transaction). Of two reports of one instance, the later in the list wins.
 */
export async function saveInstanceReports(tx: Kysely<Tables>, all: InstanceReport[]): Promise<void> {
  const reports = [...new Map(all.map((r) => [r.instanceId, r])).values()];
  if (reports.length === 0) return;
  const ids = reports.map((r) => r.instanceId);
  for (let i = 0; i < reports.length; i += rowsPerStatement) {
    await tx
      .insertInto('instances')
      .values(
        reports.slice(i, i + rowsPerStatement).map((r) => ({
          instance_id: r.instanceId,
          environment: r.environment,
          profile: r.profile,
          labels: JSON.stringify(r.labels),
          first_seen_at: r.at,
          last_seen_at: r.at,
          report_digest: r.digest,
        })),
      )
      .onConflict((oc) =>
        oc.column('instance_id').doUpdateSet((eb) => ({
          environment: eb.ref('excluded.environment'),
          profile: eb.ref('excluded.profile'),
          labels: eb.ref('excluded.labels'),
          last_seen_at: eb.ref('excluded.last_seen_at'),
          report_digest: eb.ref('excluded.report_digest'),
        })),
      )
      .execute();
  }
  for (let i = 0; i < ids.length; i += rowsPerStatement) {
    const some = ids.slice(i, i + rowsPerStatement);
    await tx.deleteFrom('instance_labels').where('instance_id', 'in', some).execute();
    await tx.deleteFrom('instance_services').where('instance_id', 'in', some).execute();
  }
  const labelRows = reports.flatMap((r) =>
    Object.entries(r.labels).map(([key, value]) => ({ instance_id: r.instanceId, key, value })),
  );
  await insertChunked(tx, 'instance_labels', labelRows);
  const serviceRows = reports.flatMap((r) =>
    r.services.map((s) => ({
      instance_id: r.instanceId,
      service: s.service,
      version: s.version,
      target_version: s.targetVersion,
      update_error: s.updateError,
      installed_at: s.installedAt,
      started_at: s.startedAt,
      failure_count: s.failureCount,
      last_exit_code: s.lastExitCode,
      state: s.state,
      updated_at: r.at,
    })),
  );
  await insertChunked(tx, 'instance_services', serviceRows);
}

export async function listInstances(db: Kysely<Tables>, f: InstanceFilter): Promise<InstanceRow[]> {
  let q = db.selectFrom('instances').selectAll();
  if (f.environment !== undefined) q = q.where('environment', '=', f.environment);
  if (f.service !== undefined) {
    const service = f.service;
    q = q.where((eb) =>
      eb.exists(
        eb
          .selectFrom('instance_services as s')
          .select('s.instance_id')
          .whereRef('s.instance_id', '=', 'instances.instance_id')
          .where('s.service', '=', service),
      ),
    );
  }
  if (f.label !== undefined) {
    const { key, value } = f.label;
    q = q.where((eb) =>
      eb.exists(
        eb
          .selectFrom('instance_labels as l')
          .select('l.instance_id')
          .whereRef('l.instance_id', '=', 'instances.instance_id')
          .where('l.key', '=', key)
          .where('l.value', '=', value),
      ),
    );
  }
  if (f.stale === true) q = q.where('last_seen_at', '<', f.staleBefore);
  if (f.stale === false) q = q.where('last_seen_at', '>=', f.staleBefore);
  if (f.after !== undefined) q = q.where('instance_id', '>', f.after);
  const rows = await q.orderBy('instance_id').limit(f.limit).execute();
  return withServices(db, rows);
}

export async function getInstance(db: Kysely<Tables>, instanceId: string): Promise<InstanceRow | undefined> {
  const rows = await db.selectFrom('instances').selectAll().where('instance_id', '=', instanceId).execute();
  return (await withServices(db, rows))[0];
}

async function withServices(db: Kysely<Tables>, rows: Array<Tables['instances']>): Promise<InstanceRow[]> {
  if (rows.length === 0) return [];
  const services = await db
    .selectFrom('instance_services')
    .selectAll()
    .where(
      'instance_id',
      'in',
      rows.map((r) => r.instance_id),
    )
    .orderBy('service')
    .execute();
  const byInstance = new Map<string, InstanceRow['services']>();
  for (const s of services) {
    const list = byInstance.get(s.instance_id) ?? [];
    list.push({
      service: s.service,
      version: s.version,
      targetVersion: s.target_version,
      state: s.state,
      updateError: s.update_error,
      installedAt: s.installed_at,
      startedAt: s.started_at,
      failureCount: Number(s.failure_count),
      lastExitCode: s.last_exit_code === null ? null : Number(s.last_exit_code),
      updatedAt: s.updated_at,
    });
    byInstance.set(s.instance_id, list);
  }
  return rows.map((r) => ({
    instanceId: r.instance_id,
    environment: r.environment,
    profile: r.profile,
    labels: JSON.parse(r.labels) as Record<string, string>,
    firstSeenAt: r.first_seen_at,
    lastSeenAt: r.last_seen_at,
    services: byInstance.get(r.instance_id) ?? [],
  }));
}

/** Deletes instances not seen since `before`, with their services and labels. Returns how many went. */
export async function expireInstances(db: Kysely<Tables>, before: Date): Promise<number> {
  const cutoff = before.toISOString();
  return db.transaction().execute(async (tx) => {
    const gone = tx.selectFrom('instances').select('instance_id').where('last_seen_at', '<', cutoff);
    await tx.deleteFrom('instance_services').where('instance_id', 'in', gone).execute();
    await tx.deleteFrom('instance_labels').where('instance_id', 'in', gone).execute();
    const result = await tx.deleteFrom('instances').where('last_seen_at', '<', cutoff).executeTakeFirst();
    return Number(result.numDeletedRows);
  });
}
