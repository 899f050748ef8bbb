import type { Kysely } from 'kysely';

// Federation between servers. On a provider: consumer accounts (token as SHA-256 only) and the latest
// report each consumer sent. On a consumer: where each federated version came from (provenance).
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('federation_consumers')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('profile', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    // Another consumer (the test installation): only versions it reported tested reach this one.
    .addColumn('test_consumer', 'text')
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('last_seen_at', 'text')
    .addColumn('revoked_at', 'text')
    .execute();
  await db.schema
    .createTable('federation_reports')
    .addColumn('consumer', 'text', (c) => c.primaryKey())
    .addColumn('report', 'text', (c) => c.notNull())
    .addColumn('received_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('federation_received')
    .addColumn('service', 'text', (c) => c.notNull())
    .addColumn('version', 'text', (c) => c.notNull())
    .addColumn('provider_url', 'text', (c) => c.notNull())
    .addColumn('provider_digest', 'text', (c) => c.notNull())
    .addColumn('provider_key_id', 'text', (c) => c.notNull())
    .addColumn('provider_published_at', 'text', (c) => c.notNull())
    .addColumn('received_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('federation_received_pk', ['service', 'version'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('federation_received').execute();
  await db.schema.dropTable('federation_reports').execute();
  await db.schema.dropTable('federation_consumers').execute();
}
