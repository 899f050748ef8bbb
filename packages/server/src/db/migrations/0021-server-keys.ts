import type { Kysely } from 'kysely';

// Fingerprints of the keys each server keeps in its data directory (never the keys): replicas on one
// PostgreSQL must hold the same ones, and a replica whose key differs refuses to start.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('server_keys')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    .addColumn('recorded_at', 'text', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('server_keys').execute();
}
