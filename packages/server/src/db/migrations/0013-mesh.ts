import type { Kysely } from 'kysely';

// The network mesh in the fleet: per environment whether agents run it, each mesh node (the address it
// announced, its certificate, its last report) and per-pair, per-phase, per-minute summaries.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('mesh_environments')
    .addColumn('environment', 'text', (c) => c.primaryKey())
    .addColumn('enabled', 'integer', (c) => c.notNull())
    .addColumn('max_peers_per_round', 'integer')
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_by', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('mesh_nodes')
    .addColumn('instance_id', 'text', (c) => c.primaryKey())
    .addColumn('environment', 'text', (c) => c.notNull())
    .addColumn('address', 'text', (c) => c.notNull())
    .addColumn('certificate_expires_at', 'bigint')
    .addColumn('seen_at', 'bigint', (c) => c.notNull())
    .addColumn('reported_at', 'bigint')
    .addColumn('lag_p50', 'double precision')
    .addColumn('lag_p99', 'double precision')
    .addColumn('lag_max', 'double precision')
    .execute();
  await db.schema.createIndex('mesh_nodes_environment').on('mesh_nodes').columns(['environment', 'seen_at']).execute();
  await db.schema
    .createTable('mesh_summaries')
    .addColumn('environment', 'text', (c) => c.notNull())
    .addColumn('from_node', 'text', (c) => c.notNull())
    .addColumn('to_node', 'text', (c) => c.notNull())
    .addColumn('phase', 'text', (c) => c.notNull())
    .addColumn('minute', 'bigint', (c) => c.notNull())
    .addColumn('count', 'integer', (c) => c.notNull())
    .addColumn('failed', 'integer', (c) => c.notNull())
    .addColumn('min', 'double precision')
    .addColumn('p50', 'double precision')
    .addColumn('p99', 'double precision')
    .addColumn('max', 'double precision')
    .addColumn('jitter', 'double precision')
    .addPrimaryKeyConstraint('mesh_summaries_pk', ['environment', 'from_node', 'to_node', 'phase', 'minute'])
    .execute();
  // The mesh view reads an environment's recent minutes; retention deletes by minute.
  await db.schema
    .createIndex('mesh_summaries_minute')
    .on('mesh_summaries')
    .columns(['environment', 'minute'])
    .execute();
  await db.schema.createIndex('mesh_summaries_retention').on('mesh_summaries').column('minute').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('mesh_summaries').execute();
  await db.schema.dropTable('mesh_nodes').execute();
  await db.schema.dropTable('mesh_environments').execute();
}
