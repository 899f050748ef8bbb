import type { Kysely } from 'kysely';

// Client versions: a version's kind, and for a client version its developer version, generation,
// the digest of its inputs and its settings repositories (JSON). Existing rows are developer versions.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('service_versions')
    .addColumn('kind', 'text', (c) => c.notNull().defaultTo('developer'))
    .execute();
  await db.schema.alterTable('service_versions').addColumn('developer_version', 'text').execute();
  await db.schema.alterTable('service_versions').addColumn('generation', 'integer').execute();
  await db.schema.alterTable('service_versions').addColumn('client_inputs', 'text').execute();
  await db.schema.alterTable('service_versions').addColumn('settings', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const column of ['settings', 'client_inputs', 'generation', 'developer_version', 'kind']) {
    await db.schema.alterTable('service_versions').dropColumn(column).execute();
  }
}
