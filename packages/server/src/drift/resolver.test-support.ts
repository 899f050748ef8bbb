import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Tables } from '../db/tables.ts';
import type { RunningVersion, UpstreamReference } from './store.ts';

export interface TestRow {
  environment?: string;
  place: string;
  subject: string;
  versions: RunningVersion[];
  upstream?: UpstreamReference | null;
}

/**
 * Writes a row as ingestion does (new content: `resolved_at` null), so resolver tests do not depend on
 * the report routes. An existing row gets the new content and is queued again.
 */
export async function putRow(db: Kysely<Tables>, row: TestRow, now = Date.now()): Promise<void> {
  const versions = JSON.stringify(row.versions);
  const upstream = row.upstream ? JSON.stringify(row.upstream) : null;
  const content_hash = createHash('sha256')
    .update(JSON.stringify([versions, upstream]))
    .digest('base64url');
  const values = {
    environment: row.environment ?? 'prod',
    place: row.place,
    subject: row.subject,
    namespace: null,
    tags: '{}',
    versions,
    upstream,
    content_hash,
    reported_at: now,
    changed_at: now,
    stale_since: null,
    resolved_at: null,
  };
  await db
    .insertInto('drift_subjects')
    .values(values)
    .onConflict((oc) =>
      oc.columns(['environment', 'place', 'subject']).doUpdateSet({
        versions,
        upstream,
        content_hash,
        changed_at: now,
        resolved_at: null,
      }),
    )
    .execute();
}

export async function readRow(db: Kysely<Tables>, place: string, subject: string, environment = 'prod') {
  return db
    .selectFrom('drift_subjects')
    .selectAll()
    .where('environment', '=', environment)
    .where('place', '=', place)
    .where('subject', '=', subject)
    .executeTakeFirstOrThrow();
}

export const running = (runningVersion: string, image?: string): RunningVersion => ({
  runningVersion,
  resourceCount: 1,
  resourceKind: 'Pods',
  ...(image ? { image } : {}),
});
