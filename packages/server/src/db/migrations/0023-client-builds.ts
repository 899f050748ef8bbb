import type { Kysely } from 'kysely';

// Build jobs that tag their sources once published; build jobs of client versions (settings repositories applied to a developer version), some asked
// for by a consumer server; a client version built for a consumer is offered to that consumer only,
// and a consumer's settings repositories must lie under the URL prefixes the provider allowed it.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('builds')
    .addColumn('kind', 'text', (c) => c.notNull().defaultTo('version'))
    .execute();
  await db.schema.alterTable('builds').addColumn('from_version', 'text').execute();
  await db.schema.alterTable('builds').addColumn('consumer', 'text').execute();
  await db.schema
    .alterTable('builds')
    .addColumn('tag_sources', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.alterTable('service_versions').addColumn('consumer', 'text').execute();
  await db.schema.alterTable('federation_consumers').addColumn('settings_urls', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('federation_consumers').dropColumn('settings_urls').execute();
  await db.schema.alterTable('service_versions').dropColumn('consumer').execute();
  await db.schema.alterTable('builds').dropColumn('tag_sources').execute();
  await db.schema.alterTable('builds').dropColumn('consumer').execute();
  await db.schema.alterTable('builds').dropColumn('from_version').execute();
  await db.schema.alterTable('builds').dropColumn('kind').execute();
}
