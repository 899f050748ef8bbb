import type { Kysely } from 'kysely';

// Builds queued on the server. Ids are whole numbers given in order, so the queue is FIFO by id;
// sources, macros and private file paths are JSON text; times are ISO-8601 UTC text.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('builds')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('service', 'text', (c) => c.notNull())
    .addColumn('version', 'text')
    .addColumn('sources', 'text', (c) => c.notNull())
    .addColumn('macros', 'text', (c) => c.notNull())
    .addColumn('private_files', 'text', (c) => c.notNull())
    .addColumn('set_desired', 'text')
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('requested_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('started_at', 'text')
    .addColumn('finished_at', 'text')
    .addColumn('result_version', 'text')
    .addColumn('error', 'text')
    .addColumn('log_bytes', 'bigint', (c) => c.notNull().defaultTo(0))
    // Which server runs it (host and data directory), so a restart fails only its own jobs.
    .addColumn('runner', 'text')
    .execute();
  await db.schema.createIndex('builds_state').on('builds').columns(['state', 'id']).execute();
  await db.schema.createIndex('builds_service').on('builds').columns(['service', 'id']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('builds').execute();
}
