import type { Kysely } from 'kysely';
import type { Tables } from '../db/tables.ts';
import type { FederationReceivedTable } from './tables.ts';

export type ReceivedRow = FederationReceivedTable;

/** On a consumer: where a federated version came from, written once it is published. */
export async function recordReceived(db: Kysely<Tables>, row: ReceivedRow): Promise<void> {
  await db
    .deleteFrom('federation_received')
    .where('service', '=', row.service)
    .where('version', '=', row.version)
    .execute();
  await db.insertInto('federation_received').values(row).execute();
}

export async function listReceived(db: Kysely<Tables>, limit = 100): Promise<ReceivedRow[]> {
  return db.selectFrom('federation_received').selectAll().orderBy('received_at', 'desc').limit(limit).execute();
}

/** The services this server has received from its provider. */
export async function receivedServices(db: Kysely<Tables>): Promise<string[]> {
  const rows = await db.selectFrom('federation_received').select('service').distinct().execute();
  return rows.map((r) => r.service).sort();
}
