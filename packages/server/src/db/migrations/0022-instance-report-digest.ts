import type { Kysely } from 'kysely';

// The digest of an instance's last stored report: a report equal to it only moves `last_seen_at`,
// one statement instead of rewriting the instance's labels and services.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('instances').addColumn('report_digest', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('instances').dropColumn('report_digest').execute();
}
