import type { MeshLoopLag, MeshPairSummary } from '@flotilla/protocol';
import { type Kysely, sql, type Transaction } from 'kysely';
import type { Tables } from '../db/tables.ts';
import type { MeshNodesTable } from './tables.ts';

type Db = Kysely<Tables> | Transaction<Tables>;

export interface MeshSettingsRow {
  environment: string;
  enabled: boolean;
  maxPeersPerRound: number | null;
  updatedAt: number | null;
  updatedBy: string | null;
}

const off = (environment: string): MeshSettingsRow => ({
  environment,
  enabled: false,
  maxPeersPerRound: null,
  updatedAt: null,
  updatedBy: null,
});

export async function environmentExists(db: Db, environment: string): Promise<boolean> {
  const row = await db.selectFrom('environments').select('name').where('name', '=', environment).executeTakeFirst();
  return row !== undefined;
}

/** An environment never switched on reads as off. */
export async function readSettings(db: Db, environment: string): Promise<MeshSettingsRow> {
  const row = await db
    .selectFrom('mesh_environments')
    .selectAll()
    .where('environment', '=', environment)
    .executeTakeFirst();
  if (!row) return off(environment);
  return {
    environment,
    enabled: Number(row.enabled) === 1,
    maxPeersPerRound: row.max_peers_per_round,
    updatedAt: Number(row.updated_at),
    updatedBy: row.updated_by,
  };
}

/** Every environment with its mesh setting (off when never set), by name. */
export async function listSettings(db: Db): Promise<MeshSettingsRow[]> {
  const envs = await db.selectFrom('environments').select('name').orderBy('name').execute();
  const rows = await db.selectFrom('mesh_environments').selectAll().execute();
  const byEnv = new Map(rows.map((r) => [r.environment, r]));
  return envs.map(({ name }) => {
    const r = byEnv.get(name);
    return r
      ? {
          environment: name,
          enabled: Number(r.enabled) === 1,
          maxPeersPerRound: r.max_peers_per_round,
          updatedAt: Number(r.updated_at),
          updatedBy: r.updated_by,
        }
      : off(name);
  });
}

export async function writeSettings(
  db: Db,
  row: { environment: string; enabled: boolean; maxPeersPerRound: number | null; at: number; by: string },
): Promise<void> {
  const values = {
    environment: row.environment,
    enabled: row.enabled ? 1 : 0,
    max_peers_per_round: row.maxPeersPerRound,
    updated_at: row.at,
    updated_by: row.by,
  };
  await db
    .insertInto('mesh_environments')
    .values(values)
    .onConflict((oc) =>
      oc.column('environment').doUpdateSet({
        enabled: values.enabled,
        max_peers_per_round: values.max_peers_per_round,
        updated_at: values.updated_at,
        updated_by: values.updated_by,
      }),
    )
    .execute();
}

/** A node asked for a certificate: it is a mesh node of `environment`, dialled at `address`. */
export async function announceNode(
  db: Db,
  node: { instance: string; environment: string; address: string; certificateExpiresAt: number; at: number },
): Promise<void> {
  await db
    .insertInto('mesh_nodes')
    .values({
      instance_id: node.instance,
      environment: node.environment,
      address: node.address,
      certificate_expires_at: node.certificateExpiresAt,
      seen_at: node.at,
      reported_at: null,
      lag_p50: null,
      lag_p99: null,
      lag_max: null,
    })
    .onConflict((oc) =>
      oc.column('instance_id').doUpdateSet({
        environment: node.environment,
        address: node.address,
        certificate_expires_at: node.certificateExpiresAt,
        seen_at: node.at,
      }),
    )
    .execute();
}

export type MeshNodeRow = MeshNodesTable;

export async function findNode(db: Db, instance: string): Promise<MeshNodeRow | undefined> {
  return db.selectFrom('mesh_nodes').selectAll().where('instance_id', '=', instance).executeTakeFirst();
}

/** An environment's nodes, most recently seen first, at most `limit`, leaving out revoked instances. */
export async function listNodes(db: Db, environment: string, limit: number): Promise<MeshNodeRow[]> {
  const rows = await db
    .selectFrom('mesh_nodes as n')
    .innerJoin('agent_identities as i', 'i.instance_id', 'n.instance_id')
    .selectAll('n')
    .where('n.environment', '=', environment)
    .where('i.environment', '=', environment)
    .where('i.revoked_at', 'is', null)
    .orderBy('n.seen_at', 'desc')
    .orderBy('n.instance_id')
    .limit(limit)
    .execute();
  return rows.map((r) => ({
    ...r,
    seen_at: Number(r.seen_at),
    reported_at: r.reported_at === null ? null : Number(r.reported_at),
    certificate_expires_at: r.certificate_expires_at === null ? null : Number(r.certificate_expires_at),
  }));
}

/** Every mesh node's instance id in an environment. */
export async function nodeIds(db: Db, environment: string): Promise<Set<string>> {
  const rows = await db.selectFrom('mesh_nodes').select('instance_id').where('environment', '=', environment).execute();
  return new Set(rows.map((r) => r.instance_id));
}

// 12 columns a row: 400 rows stay far below SQLite's and PostgreSQL's bound-parameter limits.
const rowsPerInsert = 400;

/** One report: its summaries (a resent minute replaces the stored one) and the node's loop lag. */
export async function storeReport(
  db: Db,
  report: { environment: string; instance: string; summaries: MeshPairSummary[]; lag?: MeshLoopLag; at: number },
): Promise<void> {
  for (let i = 0; i < report.summaries.length; i += rowsPerInsert) {
    const values = report.summaries.slice(i, i + rowsPerInsert).map((s) => ({
      environment: report.environment,
      from_node: s.from,
      to_node: s.to,
      phase: s.phase,
      minute: s.minute,
      count: s.count,
      failed: s.failed,
      min: s.min ?? null,
      p50: s.p50 ?? null,
      p99: s.p99 ?? null,
      max: s.max ?? null,
      jitter: s.jitter ?? null,
    }));
    await db
      .insertInto('mesh_summaries')
      .values(values)
      .onConflict((oc) =>
        oc.columns(['environment', 'from_node', 'to_node', 'phase', 'minute']).doUpdateSet((eb) => ({
          count: eb.ref('excluded.count'),
          failed: eb.ref('excluded.failed'),
          min: eb.ref('excluded.min'),
          p50: eb.ref('excluded.p50'),
          p99: eb.ref('excluded.p99'),
          max: eb.ref('excluded.max'),
          jitter: eb.ref('excluded.jitter'),
        })),
      )
      .execute();
  }
  await db
    .updateTable('mesh_nodes')
    .set({
      seen_at: report.at,
      reported_at: report.at,
      ...(report.lag ? { lag_p50: report.lag.p50, lag_p99: report.lag.p99, lag_max: report.lag.max } : {}),
    })
    .where('instance_id', '=', report.instance)
    .execute();
}

export interface PairAggregate {
  from: string;
  to: string;
  phase: string;
  count: number;
  failed: number;
  min: number | null;
  max: number | null;
  p99: number | null;
  /** Mean of the minutes' p50, weighted by their successful probes. */
  p50: number | null;
}

/** Per (from, to, phase): the minutes in [since, until) added up. */
export async function aggregatePairs(
  db: Db,
  environment: string,
  since: number,
  until: number,
): Promise<PairAggregate[]> {
  const rows = await db
    .selectFrom('mesh_summaries')
    .select((eb) => [
      'from_node',
      'to_node',
      'phase',
      eb.fn.sum<number>('count').as('count'),
      eb.fn.sum<number>('failed').as('failed'),
      eb.fn.min<number | null>('min').as('min'),
      eb.fn.max<number | null>('max').as('max'),
      eb.fn.max<number | null>('p99').as('p99'),
      // Successful probes weigh each minute's p50 (spelled out: the parentheses matter).
      sql<number | null>`sum(${eb.ref('p50')} * (${eb.ref('count')} - ${eb.ref('failed')}))`.as('p50_weighted'),
      sql<
        number | null
      >`sum(case when ${eb.ref('p50')} is null then 0 else ${eb.ref('count')} - ${eb.ref('failed')} end)`.as(
        'p50_weight',
      ),
    ])
    .where('environment', '=', environment)
    .where('minute', '>=', since)
    .where('minute', '<', until)
    .groupBy(['from_node', 'to_node', 'phase'])
    .execute();
  return rows.map((r) => {
    const weight = Number(r.p50_weight ?? 0);
    return {
      from: r.from_node,
      to: r.to_node,
      phase: r.phase,
      count: Number(r.count),
      failed: Number(r.failed),
      min: r.min === null ? null : Number(r.min),
      max: r.max === null ? null : Number(r.max),
      p99: r.p99 === null ? null : Number(r.p99),
      p50: weight > 0 && r.p50_weighted !== null ? Number(r.p50_weighted) / weight : null,
    };
  });
}

/** One pair's minutes since `since`, oldest first, at most `limit`. */
export async function pairSeries(
  db: Db,
  q: { environment: string; from: string; to: string; since: number; limit: number },
) {
  const rows = await db
    .selectFrom('mesh_summaries')
    .select(['phase', 'minute', 'count', 'failed', 'min', 'p50', 'p99', 'max', 'jitter'])
    .where('environment', '=', q.environment)
    .where('from_node', '=', q.from)
    .where('to_node', '=', q.to)
    .where('minute', '>=', q.since)
    .orderBy('minute', 'desc')
    .orderBy('phase')
    .limit(q.limit)
    .execute();
  return rows.reverse().map((r) => ({ ...r, minute: Number(r.minute) }));
}

/** Retention: summaries of minutes before `cutoff`, and nodes silent since before it. */
export async function deleteOlderThan(db: Db, cutoff: number): Promise<number> {
  const gone = await db.deleteFrom('mesh_summaries').where('minute', '<', cutoff).executeTakeFirst();
  await db.deleteFrom('mesh_nodes').where('seen_at', '<', cutoff).execute();
  return Number(gone.numDeletedRows);
}
