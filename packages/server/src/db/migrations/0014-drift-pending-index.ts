import { type Kysely, sql } from 'kysely';

// The resolver's work queue as a partial index of the rows waiting (`resolved_at` null) instead of an
// index of every row's `resolved_at`: a changed report and its comparison then touch a few pages of a
// small index rather than two random pages of a large one.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('drift_subjects_resolved').execute();
  await db.schema
    .createIndex('drift_subjects_pending')
    .on('drift_subjects')
    .columns(['environment', 'place', 'subject'])
    .where(sql.ref('resolved_at'), 'is', null)
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('drift_subjects_pending').execute();
  await db.schema.createIndex('drift_subjects_resolved').on('drift_subjects').column('resolved_at').execute();
}
