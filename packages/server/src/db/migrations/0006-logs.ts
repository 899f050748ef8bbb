import type { Kysely } from 'kysely';

// Portable types only; times are epoch milliseconds. `id` starts with the line's 13-digit time, so it
// sorts like (time, arrival) on both engines without an auto-increment column.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('log_lines')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('received_at', 'bigint', (c) => c.notNull())
    .addColumn('time', 'bigint', (c) => c.notNull())
    .addColumn('environment', 'text', (c) => c.notNull())
    .addColumn('instance_id', 'text', (c) => c.notNull())
    .addColumn('service', 'text', (c) => c.notNull())
    .addColumn('version', 'text')
    .addColumn('pid', 'integer')
    .addColumn('level', 'text', (c) => c.notNull())
    .addColumn('level_rank', 'integer', (c) => c.notNull())
    .addColumn('unit', 'text', (c) => c.notNull())
    .addColumn('stream', 'text', (c) => c.notNull())
    .addColumn('message', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('log_lines_service_time').on('log_lines').columns(['service', 'time', 'id']).execute();
  await db.schema
    .createIndex('log_lines_instance_time')
    .on('log_lines')
    .columns(['instance_id', 'time', 'id'])
    .execute();
  await db.schema.createIndex('log_lines_time').on('log_lines').columns(['time', 'id']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('log_lines').execute();
}
