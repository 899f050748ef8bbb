import type { Insertable, Kysely, Selectable } from 'kysely';
import type { Tables } from '../db/tables.ts';
import { uniqueOr } from '../db/unique.ts';
import { trashedDigests } from '../trash/store.ts';
import type { ServicesTable, ServiceVersionsTable } from './tables.ts';

export type ServiceRow = ServicesTable;
type ClientColumns = 'kind' | 'developer_version' | 'generation' | 'client_inputs' | 'settings' | 'consumer';
/** A version row; the client columns may be left out when inserting a developer version. */
export type VersionRow = Omit<Selectable<ServiceVersionsTable>, ClientColumns> &
  Partial<Pick<Selectable<ServiceVersionsTable>, ClientColumns>>;
export type VersionSummaryRow = Omit<VersionRow, 'manifest' | 'signed_manifest' | 'signature' | 'key_id'>;

export async function insertService(db: Kysely<Tables>, row: ServiceRow): Promise<void> {
  await uniqueOr(`service "${row.name}" already exists`, () => db.insertInto('services').values(row).execute());
}

export async function getService(db: Kysely<Tables>, name: string): Promise<ServiceRow | undefined> {
  return db.selectFrom('services').selectAll().where('name', '=', name).executeTakeFirst();
}

export async function listServices(db: Kysely<Tables>): Promise<ServiceRow[]> {
  return db.selectFrom('services').selectAll().orderBy('name').execute();
}

export async function updateService(
  db: Kysely<Tables>,
  name: string,
  patch: Partial<Pick<ServiceRow, 'description' | 'max_history_size'>> & { updated_at: string },
): Promise<void> {
  await db.updateTable('services').set(patch).where('name', '=', name).execute();
}

export async function deleteService(db: Kysely<Tables>, name: string): Promise<void> {
  await db.deleteFrom('services').where('name', '=', name).execute();
}

export async function countVersions(db: Kysely<Tables>, service: string): Promise<number> {
  const row = await db
    .selectFrom('service_versions')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('service', '=', service)
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

export async function profilesUsing(db: Kysely<Tables>, service: string): Promise<string[]> {
  const rows = await db
    .selectFrom('profile_services')
    .select('profile')
    .where('service', '=', service)
    .orderBy('profile')
    .execute();
  return rows.map((r) => r.profile);
}

export interface ProfileRow {
  name: string;
  services: string[];
  updatedAt: string;
}

export async function listProfiles(db: Kysely<Tables>, name?: string): Promise<ProfileRow[]> {
  let q = db.selectFrom('profiles').selectAll();
  if (name !== undefined) q = q.where('name', '=', name);
  const profiles = await q.orderBy('name').execute();
  let members = db.selectFrom('profile_services').selectAll();
  if (name !== undefined) members = members.where('profile', '=', name);
  const rows = await members.orderBy('service').execute();
  return profiles.map((p) => ({
    name: p.name,
    services: rows.filter((r) => r.profile === p.name).map((r) => r.service),
    updatedAt: p.updated_at,
  }));
}

/** Replaces the profile's whole service list (creating the profile if needed). */
export async function putProfile(db: Kysely<Tables>, name: string, services: string[], now: string): Promise<void> {
  const existing = await db.selectFrom('profiles').select('name').where('name', '=', name).executeTakeFirst();
  if (existing) await db.updateTable('profiles').set({ updated_at: now }).where('name', '=', name).execute();
  else {
    await uniqueOr(`profile "${name}" was created concurrently; retry`, () =>
      db.insertInto('profiles').values({ name, updated_at: now }).execute(),
    );
  }
  await db.deleteFrom('profile_services').where('profile', '=', name).execute();
  if (services.length > 0) {
    await db
      .insertInto('profile_services')
      .values(services.map((service) => ({ profile: name, service })))
      .execute();
  }
}

export async function deleteProfile(db: Kysely<Tables>, name: string): Promise<boolean> {
  await db.deleteFrom('profile_services').where('profile', '=', name).execute();
  const res = await db.deleteFrom('profiles').where('name', '=', name).executeTakeFirst();
  return Number(res.numDeletedRows) > 0;
}

export async function existingServices(db: Kysely<Tables>, names: string[]): Promise<Set<string>> {
  if (names.length === 0) return new Set();
  const rows = await db.selectFrom('services').select('name').where('name', 'in', names).execute();
  return new Set(rows.map((r) => r.name));
}

export async function insertVersion(db: Kysely<Tables>, row: VersionRow): Promise<void> {
  // Rows kept in the trash before client versions existed lack the kind and its columns.
  const full: Insertable<ServiceVersionsTable> = {
    ...row,
    kind: row.kind ?? 'developer',
    developer_version: row.developer_version ?? null,
    generation: row.generation ?? null,
    client_inputs: row.client_inputs ?? null,
    settings: row.settings ?? null,
    consumer: row.consumer ?? null,
  };
  await uniqueOr(`version ${row.version} of service "${row.service}" already exists`, () =>
    db.insertInto('service_versions').values(full).execute(),
  );
}

export async function getVersion(
  db: Kysely<Tables>,
  service: string,
  version: string,
): Promise<VersionRow | undefined> {
  const row = await db
    .selectFrom('service_versions')
    .selectAll()
    .where('service', '=', service)
    .where('version', '=', version)
    .executeTakeFirst();
  return row
    ? { ...row, size: Number(row.size), generation: row.generation === null ? null : Number(row.generation) }
    : undefined;
}

/**
 * The versions of a service of one kind (developer by default, as check-in answers and history
 * trimming want), or of both, without the large columns; history is capped, so this stays small.
 */
export async function listVersionSummaries(
  db: Kysely<Tables>,
  service: string,
  kind: 'developer' | 'client' | 'all' = 'developer',
): Promise<VersionSummaryRow[]> {
  let q = db
    .selectFrom('service_versions')
    .select([
      'service',
      'version',
      'digest',
      'size',
      'notes',
      'author',
      'created_at',
      'kind',
      'developer_version',
      'generation',
      'client_inputs',
      'settings',
      'consumer',
    ])
    .where('service', '=', service);
  if (kind !== 'all') q = q.where('kind', '=', kind);
  const rows = await q.execute();
  return rows.map((r) => ({
    ...r,
    size: Number(r.size),
    generation: r.generation === null ? null : Number(r.generation),
  }));
}

export async function deleteVersions(db: Kysely<Tables>, service: string, versions: string[]): Promise<void> {
  if (versions.length === 0) return;
  await db.deleteFrom('service_versions').where('service', '=', service).where('version', 'in', versions).execute();
}

/** The digests among `digests` that no version row references any more, nor a restorable deleted one. */
export async function unreferencedDigests(db: Kysely<Tables>, digests: string[]): Promise<string[]> {
  if (digests.length === 0) return [];
  const rows = await db.selectFrom('service_versions').select('digest').where('digest', 'in', digests).execute();
  const used = new Set([...rows.map((r) => r.digest), ...(await trashedDigests(db, digests))]);
  return [...new Set(digests)].filter((d) => !used.has(d));
}

export async function serviceNames(db: Kysely<Tables>): Promise<string[]> {
  const rows = await db.selectFrom('services').select('name').orderBy('name').execute();
  return rows.map((r) => r.name);
}
