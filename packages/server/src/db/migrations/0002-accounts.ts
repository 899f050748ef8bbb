import { type Kysely, sql } from 'kysely';

// SQLite takes one column per ALTER TABLE, so each new token column is its own statement.
const tokenColumns = ['kind', 'user_id', 'environment', 'profile', 'expires_at', 'created_by'] as const;

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('users')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('disabled_at', 'text')
    .execute();

  for (const column of tokenColumns) {
    await db.schema.alterTable('api_tokens').addColumn(column, 'text').execute();
  }
  // Tokens from before accounts existed are the admin tokens.
  await sql`update api_tokens set kind = 'admin' where kind is null`.execute(db);
  await db.schema.createIndex('api_tokens_user_id').on('api_tokens').column('user_id').execute();

  await db.schema
    .createTable('audit_log')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('target', 'text', (c) => c.notNull())
    .addColumn('before_json', 'text')
    .addColumn('after_json', 'text')
    .execute();
  await db.schema.createIndex('audit_log_at').on('audit_log').columns(['at', 'id']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('audit_log_at').execute();
  await db.schema.dropTable('audit_log').execute();
  await db.schema.dropIndex('api_tokens_user_id').execute();
  for (const column of [...tokenColumns].reverse()) {
    await db.schema.alterTable('api_tokens').dropColumn(column).execute();
  }
  await db.schema.dropTable('users').execute();
}
