import type { Kysely } from 'kysely';
import type { Tables } from '../db/tables.ts';
import type { FederationConsumersTable } from './tables.ts';

export type ConsumerRow = FederationConsumersTable;

export async function insertConsumer(db: Kysely<Tables>, row: ConsumerRow): Promise<void> {
  await db.insertInto('federation_consumers').values(row).execute();
}

export async function getConsumer(db: Kysely<Tables>, name: string): Promise<ConsumerRow | undefined> {
  return db.selectFrom('federation_consumers').selectAll().where('name', '=', name).executeTakeFirst();
}

export async function consumerByTokenHash(db: Kysely<Tables>, hash: string): Promise<ConsumerRow | undefined> {
  return db.selectFrom('federation_consumers').selectAll().where('token_hash', '=', hash).executeTakeFirst();
}

export async function listConsumers(db: Kysely<Tables>): Promise<ConsumerRow[]> {
  return db.selectFrom('federation_consumers').selectAll().orderBy('name').execute();
}

export async function revokeConsumer(db: Kysely<Tables>, name: string, at: string): Promise<void> {
  await db
    .updateTable('federation_consumers')
    .set({ revoked_at: at })
    .where('name', '=', name)
    .where('revoked_at', 'is', null)
    .execute();
}

export async function setSettingsUrls(db: Kysely<Tables>, name: string, urls: string | null): Promise<void> {
  await db.updateTable('federation_consumers').set({ settings_urls: urls }).where('name', '=', name).execute();
}

export async function touchConsumer(db: Kysely<Tables>, name: string, at: string): Promise<void> {
  await db.updateTable('federation_consumers').set({ last_seen_at: at }).where('name', '=', name).execute();
}

/** Keeps only the consumer's latest report. */
export async function putReport(db: Kysely<Tables>, consumer: string, report: string, at: string): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await tx.deleteFrom('federation_reports').where('consumer', '=', consumer).execute();
    await tx.insertInto('federation_reports').values({ consumer, report, received_at: at }).execute();
  });
}

export async function getReport(
  db: Kysely<Tables>,
  consumer: string,
): Promise<{ report: string; received_at: string } | undefined> {
  return db
    .selectFrom('federation_reports')
    .select(['report', 'received_at'])
    .where('consumer', '=', consumer)
    .executeTakeFirst();
}

/** A cheap fingerprint of everything a feed is made of; a change wakes the waiting feeds. */
export async function catalogFingerprint(db: Kysely<Tables>): Promise<string> {
  const v = await db
    .selectFrom('service_versions')
    .select((eb) => [eb.fn.countAll<string | number>().as('n'), eb.fn.max('created_at').as('latest')])
    .executeTakeFirst();
  const p = await db
    .selectFrom('profiles')
    .select((eb) => [eb.fn.countAll<string | number>().as('n'), eb.fn.max('updated_at').as('latest')])
    .executeTakeFirst();
  // Revocations too, so a revoked consumer's waiting feed ends at once.
  const r = await db
    .selectFrom('federation_consumers')
    .select((eb) => eb.fn.max('revoked_at').as('latest'))
    .executeTakeFirst();
  // And reports: a test consumer's tested marks open versions to the consumers gated on it.
  const t = await db
    .selectFrom('federation_reports')
    .select((eb) => eb.fn.max('received_at').as('latest'))
    .executeTakeFirst();
  return `${v?.n}|${v?.latest}|${p?.n}|${p?.latest}|${r?.latest}|${t?.latest}`;
}
