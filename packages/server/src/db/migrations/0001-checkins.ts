import type { Kysely } from 'kysely';

// Portable types only: one migration set runs on SQLite and PostgreSQL.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('checkins')
    .addColumn('time', 'bigint', (c) => c.notNull())
    .addColumn('app', 'text', (c) => c.notNull())
    .addColumn('app_version', 'text', (c) => c.notNull())
    .addColumn('country_iso_code', 'text', (c) => c.notNull())
    .addColumn('country', 'text', (c) => c.notNull())
    .addColumn('city', 'text', (c) => c.notNull())
    .addColumn('tags', 'text', (c) => c.notNull())
    .addColumn('fields', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('checkins_app_time').on('checkins').columns(['app', 'time']).execute();

  await db.schema
    .createTable('usage_rollups')
    .addColumn('app', 'text', (c) => c.notNull())
    .addColumn('period_start', 'bigint', (c) => c.notNull())
    .addColumn('dimension', 'text', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('checkins', 'bigint', (c) => c.notNull())
    .addColumn('unique_instances', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('usage_rollups_pk', ['app', 'dimension', 'period_start', 'value'])
    .execute();

  await db.schema
    .createTable('instance_period_keys')
    .addColumn('app', 'text', (c) => c.notNull())
    .addColumn('period_start', 'bigint', (c) => c.notNull())
    .addColumn('hmac_key', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('instance_period_keys_pk', ['app', 'period_start'])
    .execute();

  await db.schema
    .createTable('instance_sightings')
    .addColumn('app', 'text', (c) => c.notNull())
    .addColumn('period_start', 'bigint', (c) => c.notNull())
    .addColumn('digest', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('instance_sightings_pk', ['app', 'period_start', 'digest'])
    .execute();

  await db.schema
    .createTable('api_tokens')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('last_used_at', 'text')
    .addColumn('revoked_at', 'text')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['api_tokens', 'instance_sightings', 'instance_period_keys', 'usage_rollups', 'checkins']) {
    await db.schema.dropTable(table).execute();
  }
}
