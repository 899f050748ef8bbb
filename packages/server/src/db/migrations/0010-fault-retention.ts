import type { Kysely } from 'kysely';

// Fault retention keeps the newest reports per (environment, service) by the server's receive time,
// never by the time an agent wrote into its report. `received_at` exists since 0007 and is filled
// for every row, so no backfill is needed: this adds the index the count trim walks.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createIndex('fault_reports_env_service_received')
    .on('fault_reports')
    .columns(['environment', 'service', 'received_at', 'id'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('fault_reports_env_service_received').execute();
}
