import type { Kysely } from 'kysely';

// Instances a rollout took into a wave earlier than their own, so a small fleet's first wave is
// never empty: JSON `{ instanceId: waveIndex }`.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('rollouts')
    .addColumn('admitted', 'text', (c) => c.notNull().defaultTo('{}'))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('rollouts').dropColumn('admitted').execute();
}
