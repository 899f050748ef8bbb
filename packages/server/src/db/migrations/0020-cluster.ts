import type { Kysely } from 'kysely';

// Replicas: a replica whose notices from the others were interrupted reads the log lines that arrived
// meanwhile by arrival time (logs/cluster-follow.ts); this index keeps that read off a full scan.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('log_lines_received').on('log_lines').columns(['received_at', 'id']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('log_lines_received').execute();
}
