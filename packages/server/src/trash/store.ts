import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Tables } from '../db/tables.ts';
import type { TrashTable } from './tables.ts';

export type TrashKind = 'service' | 'profile' | 'environment' | 'version';
export type TrashRow = TrashTable;

export async function putInTrash(
  db: Kysely<Tables>,
  entry: { kind: TrashKind; name: string; version?: string; digest?: string; data: unknown; at: string; by: string },
): Promise<string> {
  const id = randomUUID();
  await db
    .insertInto('trash')
    .values({
      id,
      kind: entry.kind,
      name: entry.name,
      version: entry.version ?? null,
      digest: entry.digest ?? null,
      data: JSON.stringify(entry.data),
      deleted_at: entry.at,
      deleted_by: entry.by,
    })
    .execute();
  return id;
}

export async function listTrash(db: Kysely<Tables>, kind?: TrashKind): Promise<TrashRow[]> {
  let q = db.selectFrom('trash').selectAll();
  if (kind !== undefined) q = q.where('kind', '=', kind);
  return q.orderBy('deleted_at', 'desc').orderBy('id').execute();
}

export async function getTrash(db: Kysely<Tables>, id: string): Promise<TrashRow | undefined> {
  return db.selectFrom('trash').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The most recently deleted entry of that kind and name (and version). */
export async function latestTrash(
  db: Kysely<Tables>,
  kind: TrashKind,
  name: string,
  version?: string,
): Promise<TrashRow | undefined> {
  let q = db.selectFrom('trash').selectAll().where('kind', '=', kind).where('name', '=', name);
  if (version !== undefined) q = q.where('version', '=', version);
  return q.orderBy('deleted_at', 'desc').orderBy('id', 'desc').limit(1).executeTakeFirst();
}

export async function removeTrash(db: Kysely<Tables>, id: string): Promise<void> {
  await db.deleteFrom('trash').where('id', '=', id).execute();
}

/** Entries deleted before `cutoff` (ISO time), oldest first. */
export async function expiredTrash(db: Kysely<Tables>, cutoff: string, limit = 500): Promise<TrashRow[]> {
  return db
    .selectFrom('trash')
    .selectAll()
    .where('deleted_at', '<', cutoff)
    .orderBy('deleted_at')
    .limit(limit)
    .execute();
}

/** The digests among `digests` that a restorable version still needs. */
export async function trashedDigests(db: Kysely<Tables>, digests: string[]): Promise<Set<string>> {
  if (digests.length === 0) return new Set();
  const rows = await db.selectFrom('trash').select('digest').where('digest', 'in', digests).execute();
  return new Set(rows.map((r) => r.digest).filter((d): d is string => d !== null));
}
