import type { Kysely } from 'kysely';

// Deleted services, profiles, environments and versions, kept as JSON until purged (restorable deletes).
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('trash')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('version', 'text')
    .addColumn('digest', 'text')
    .addColumn('data', 'text', (c) => c.notNull())
    .addColumn('deleted_at', 'text', (c) => c.notNull())
    .addColumn('deleted_by', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('trash_kind_name').on('trash').columns(['kind', 'name', 'deleted_at']).execute();
  await db.schema.createIndex('trash_deleted_at').on('trash').column('deleted_at').execute();
  await db.schema.createIndex('trash_digest').on('trash').column('digest').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('trash_digest').execute();
  await db.schema.dropIndex('trash_deleted_at').execute();
  await db.schema.dropIndex('trash_kind_name').execute();
  await db.schema.dropTable('trash').execute();
}
