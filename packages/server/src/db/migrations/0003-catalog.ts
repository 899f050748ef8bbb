import type { Kysely } from 'kysely';

// Services, profiles and versions; times are ISO-8601 UTC text.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('services')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('max_history_size', 'integer')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('profiles')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('profile_services')
    .addColumn('profile', 'text', (c) => c.notNull().references('profiles.name').onDelete('cascade'))
    .addColumn('service', 'text', (c) => c.notNull().references('services.name'))
    .addPrimaryKeyConstraint('profile_services_pk', ['profile', 'service'])
    .execute();
  await db.schema.createIndex('profile_services_service').on('profile_services').column('service').execute();

  await db.schema
    .createTable('service_versions')
    .addColumn('service', 'text', (c) => c.notNull().references('services.name'))
    .addColumn('version', 'text', (c) => c.notNull())
    .addColumn('digest', 'text', (c) => c.notNull())
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addColumn('manifest', 'text', (c) => c.notNull())
    .addColumn('signed_manifest', 'text', (c) => c.notNull())
    .addColumn('signature', 'text', (c) => c.notNull())
    .addColumn('key_id', 'text', (c) => c.notNull())
    .addColumn('notes', 'text')
    .addColumn('author', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('service_versions_pk', ['service', 'version'])
    .execute();
  await db.schema.createIndex('service_versions_digest').on('service_versions').column('digest').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('service_versions_digest').execute();
  await db.schema.dropTable('service_versions').execute();
  await db.schema.dropIndex('profile_services_service').execute();
  await db.schema.dropTable('profile_services').execute();
  await db.schema.dropTable('profiles').execute();
  await db.schema.dropTable('services').execute();
}
