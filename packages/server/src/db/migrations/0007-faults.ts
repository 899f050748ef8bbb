import type { Kysely } from 'kysely';

// Portable types only; times are epoch milliseconds, JSON is text. The archive itself lives in
// `<dataDir>/faults/<id>.tar.gz`; the row holds what lists and details need without opening it.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('fault_reports')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('received_at', 'bigint', (c) => c.notNull())
    .addColumn('time', 'bigint', (c) => c.notNull())
    .addColumn('environment', 'text', (c) => c.notNull())
    .addColumn('instance_id', 'text', (c) => c.notNull())
    .addColumn('service', 'text', (c) => c.notNull())
    .addColumn('version', 'text')
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('exit_code', 'integer')
    .addColumn('signal', 'text')
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addColumn('digest', 'text', (c) => c.notNull())
    .addColumn('files', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('log_tail', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('fault_reports_service_time')
    .on('fault_reports')
    .columns(['service', 'time', 'id'])
    .execute();
  await db.schema
    .createIndex('fault_reports_instance_time')
    .on('fault_reports')
    .columns(['instance_id', 'time', 'id'])
    .execute();
  await db.schema.createIndex('fault_reports_time').on('fault_reports').columns(['time', 'id']).execute();
  await db.schema.createIndex('fault_reports_received').on('fault_reports').column('received_at').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('fault_reports').execute();
}
