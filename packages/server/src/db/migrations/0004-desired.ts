import type { Kysely } from 'kysely';

// Portable types only; times are ISO-8601 UTC text, so text order is time order.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('environments')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('requires_tested_in', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('desired_revisions')
    .addColumn('env', 'text', (c) => c.notNull())
    .addColumn('revision', 'integer', (c) => c.notNull())
    .addColumn('versions', 'text', (c) => c.notNull())
    .addColumn('author', 'text', (c) => c.notNull())
    .addColumn('comment', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('desired_revisions_pk', ['env', 'revision'])
    .execute();

  await db.schema
    .createTable('tested_marks')
    .addColumn('env', 'text', (c) => c.notNull())
    .addColumn('service', 'text', (c) => c.notNull())
    .addColumn('version', 'text', (c) => c.notNull())
    .addColumn('revision', 'integer', (c) => c.notNull())
    .addColumn('marked_by', 'text', (c) => c.notNull())
    .addColumn('marked_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('tested_marks_pk', ['env', 'service', 'version'])
    .execute();

  await db.schema
    .createTable('instances')
    .addColumn('instance_id', 'text', (c) => c.primaryKey())
    .addColumn('environment', 'text', (c) => c.notNull())
    .addColumn('profile', 'text')
    .addColumn('labels', 'text', (c) => c.notNull())
    .addColumn('first_seen_at', 'text', (c) => c.notNull())
    .addColumn('last_seen_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('instances_environment')
    .on('instances')
    .columns(['environment', 'instance_id'])
    .execute();
  await db.schema.createIndex('instances_last_seen_at').on('instances').column('last_seen_at').execute();

  await db.schema
    .createTable('instance_labels')
    .addColumn('instance_id', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('instance_labels_pk', ['instance_id', 'key'])
    .execute();
  await db.schema.createIndex('instance_labels_key_value').on('instance_labels').columns(['key', 'value']).execute();

  await db.schema
    .createTable('instance_services')
    .addColumn('instance_id', 'text', (c) => c.notNull())
    .addColumn('service', 'text', (c) => c.notNull())
    .addColumn('version', 'text')
    .addColumn('target_version', 'text')
    .addColumn('update_error', 'text')
    .addColumn('installed_at', 'text')
    .addColumn('started_at', 'text')
    .addColumn('failure_count', 'integer', (c) => c.notNull())
    .addColumn('last_exit_code', 'integer')
    .addColumn('state', 'text')
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('instance_services_pk', ['instance_id', 'service'])
    .execute();
  await db.schema.createIndex('instance_services_service').on('instance_services').columns(['service']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('instance_services_service').execute();
  await db.schema.dropTable('instance_services').execute();
  await db.schema.dropIndex('instance_labels_key_value').execute();
  await db.schema.dropTable('instance_labels').execute();
  await db.schema.dropIndex('instances_last_seen_at').execute();
  await db.schema.dropIndex('instances_environment').execute();
  await db.schema.dropTable('instances').execute();
  await db.schema.dropTable('tested_marks').execute();
  await db.schema.dropTable('desired_revisions').execute();
  await db.schema.dropTable('environments').execute();
}
