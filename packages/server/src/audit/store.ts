import type { Kysely } from 'kysely';
import type { Tables } from '../db/tables.ts';

export interface AuditFilter {
  from?: string;
  to?: string;
  actor?: string;
  action?: string;
  limit: number;
  /** The id of the last entry of the previous page: older entries only. */
  before?: { at: string; id: string };
}

export interface AuditRow {
  id: string;
  at: string;
  actor: string;
  action: string;
  target: string;
  before: unknown;
  after: unknown;
}

export async function findAuditEntry(db: Kysely<Tables>, id: string): Promise<{ at: string; id: string } | null> {
  const row = await db.selectFrom('audit_log').select(['at', 'id']).where('id', '=', id).executeTakeFirst();
  return row ?? null;
}

/** Newest first; ties on `at` are broken by id so the `before` cursor never skips or repeats. */
export async function readAudit(db: Kysely<Tables>, f: AuditFilter): Promise<AuditRow[]> {
  let q = db.selectFrom('audit_log').selectAll();
  if (f.from) q = q.where('at', '>=', f.from);
  if (f.to) q = q.where('at', '<', f.to);
  if (f.actor) q = q.where('actor', '=', f.actor);
  if (f.action) q = q.where('action', '=', f.action);
  const cursor = f.before;
  if (cursor) {
    q = q.where((eb) =>
      eb.or([eb('at', '<', cursor.at), eb.and([eb('at', '=', cursor.at), eb('id', '<', cursor.id)])]),
    );
  }
  const rows = await q.orderBy('at', 'desc').orderBy('id', 'desc').limit(f.limit).execute();
  return rows.map((r) => ({
    id: r.id,
    at: r.at,
    actor: r.actor,
    action: r.action,
    target: r.target,
    before: r.before_json === null ? null : JSON.parse(r.before_json),
    after: r.after_json === null ? null : JSON.parse(r.after_json),
  }));
}
