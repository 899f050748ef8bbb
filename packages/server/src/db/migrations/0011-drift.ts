import type { Kysely } from 'kysely';

// Version drift: the upstream lists shared by every replica (one fetch per upstream per TTL), and
// what each place (cluster or host) last reported per subject. Times are epoch ms, JSON is text.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('drift_upstreams')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('versions', 'text')
    .addColumn('etag', 'text')
    .addColumn('last_modified', 'text')
    .addColumn('fetched_at', 'bigint')
    .addColumn('error', 'text')
    .addColumn('error_at', 'bigint')
    .addColumn('failures', 'integer', (c) => c.notNull())
    .addColumn('retry_at', 'bigint')
    .addColumn('rate_limit', 'text')
    .execute();
  await db.schema
    .createTable('drift_subjects')
    .addColumn('environment', 'text', (c) => c.notNull())
    .addColumn('place', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('namespace', 'text')
    .addColumn('tags', 'text', (c) => c.notNull())
    .addColumn('versions', 'text', (c) => c.notNull())
    .addColumn('upstream', 'text')
    .addColumn('content_hash', 'text', (c) => c.notNull())
    .addColumn('reported_at', 'bigint', (c) => c.notNull())
    .addColumn('changed_at', 'bigint', (c) => c.notNull())
    .addColumn('stale_since', 'bigint')
    .addPrimaryKeyConstraint('drift_subjects_pk', ['environment', 'place', 'subject'])
    .execute();
  await db.schema.createIndex('drift_subjects_place').on('drift_subjects').columns(['place', 'subject']).execute();
  await db.schema
    .createIndex('drift_subjects_subject')
    .on('drift_subjects')
    .columns(['subject', 'environment', 'place'])
    .execute();
  await db.schema.createIndex('drift_subjects_reported').on('drift_subjects').column('reported_at').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('drift_subjects').execute();
  await db.schema.dropTable('drift_upstreams').execute();
}
