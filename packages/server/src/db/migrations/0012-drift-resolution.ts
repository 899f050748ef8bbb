import type { Kysely } from 'kysely';

// Version drift, second step: what the server worked out per reported subject (its upstream's latest
// version and how far behind the oldest running version is), errors agents report per tracker, and
// the host trackers kept per environment for `flotilla agent`.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('drift_subjects').addColumn('error', 'text').execute();
  await db.schema.alterTable('drift_subjects').addColumn('upstream_key', 'text').execute();
  await db.schema.alterTable('drift_subjects').addColumn('latest', 'text').execute();
  await db.schema.alterTable('drift_subjects').addColumn('majors_behind', 'integer').execute();
  await db.schema.alterTable('drift_subjects').addColumn('minors_behind', 'integer').execute();
  await db.schema.alterTable('drift_subjects').addColumn('patches_behind', 'integer').execute();
  await db.schema.alterTable('drift_subjects').addColumn('behind', 'text').execute();
  await db.schema.alterTable('drift_subjects').addColumn('support_ends_at', 'bigint').execute();
  await db.schema.alterTable('drift_subjects').addColumn('resolution', 'text').execute();
  await db.schema.alterTable('drift_subjects').addColumn('resolved_at', 'bigint').execute();
  await db.schema.alterTable('drift_subjects').addColumn('resolve_error', 'text').execute();
  await db.schema.createIndex('drift_subjects_upstream').on('drift_subjects').column('upstream_key').execute();
  await db.schema
    .createIndex('drift_subjects_behind')
    .on('drift_subjects')
    .columns(['behind', 'environment', 'place', 'subject'])
    .execute();
  // The resolver's work queue: rows whose content or upstream changed since they were last compared.
  await db.schema.createIndex('drift_subjects_resolved').on('drift_subjects').column('resolved_at').execute();
  await db.schema
    .createTable('drift_trackers')
    .addColumn('environment', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('spec', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_by', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('drift_trackers_pk', ['environment', 'name'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('drift_trackers').execute();
  await db.schema.dropIndex('drift_subjects_resolved').execute();
  await db.schema.dropIndex('drift_subjects_behind').execute();
  await db.schema.dropIndex('drift_subjects_upstream').execute();
  for (const column of [
    'resolve_error',
    'resolved_at',
    'resolution',
    'support_ends_at',
    'behind',
    'patches_behind',
    'minors_behind',
    'majors_behind',
    'latest',
    'upstream_key',
    'error',
  ])
    await db.schema.alterTable('drift_subjects').dropColumn(column).execute();
}
