import type { Kysely } from 'kysely';

// One identity per agent instance: a credential (stored as SHA-256) bound to the instance id, the
// environment and profile of the agent token that enrolled it, and the agent's own Ed25519 public
// key, so that certificates issued later can be bound to the same instance.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('agent_identities')
    .addColumn('instance_id', 'text', (c) => c.primaryKey())
    .addColumn('environment', 'text', (c) => c.notNull())
    .addColumn('profile', 'text')
    .addColumn('token_id', 'text', (c) => c.notNull())
    .addColumn('credential_hash', 'text', (c) => c.notNull().unique())
    .addColumn('public_key', 'text')
    .addColumn('enrolled_at', 'text', (c) => c.notNull())
    .addColumn('revoked_at', 'text')
    .addColumn('last_used_at', 'text')
    .execute();
  await db.schema.createIndex('agent_identities_token').on('agent_identities').columns(['token_id']).execute();
  await db.schema
    .createIndex('agent_identities_environment')
    .on('agent_identities')
    .columns(['environment', 'instance_id'])
    .execute();
  // How many instances an agent token may enrol; null is no limit.
  await db.schema.alterTable('api_tokens').addColumn('max_instances', 'integer').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('api_tokens').dropColumn('max_instances').execute();
  await db.schema.dropTable('agent_identities').execute();
}
