import type { Kysely } from 'kysely';
import type { Tables } from '../db/tables.ts';
import { isUniqueViolation } from '../db/unique.ts';
import { Conflict } from '../errors.ts';
import type { VersionMap } from './diff.ts';

export interface EnvironmentRow {
  name: string;
  requiresTestedIn: string | null;
  createdAt: string;
  revision: number;
}

export interface RevisionRow {
  environment: string;
  revision: number;
  versions: VersionMap;
  author: string;
  createdAt: string;
  comment: string | null;
}

/** A concurrent writer took this revision number first. */
export class RevisionTaken extends Conflict {}

function toRevision(row: Tables['desired_revisions']): RevisionRow {
  return {
    environment: row.env,
    revision: Number(row.revision),
    versions: JSON.parse(row.versions) as VersionMap,
    author: row.author,
    createdAt: row.created_at,
    comment: row.comment,
  };
}

export async function insertEnvironment(
  db: Kysely<Tables>,
  env: { name: string; requiresTestedIn: string | null; createdAt: string; createdBy: string },
): Promise<void> {
  try {
    await db
      .insertInto('environments')
      .values({
        name: env.name,
        requires_tested_in: env.requiresTestedIn,
        created_at: env.createdAt,
        created_by: env.createdBy,
      })
      .execute();
  } catch (err) {
    if (isUniqueViolation(err)) throw new Conflict(`environment "${env.name}" already exists`);
    throw err;
  }
}

export async function listEnvironments(db: Kysely<Tables>, name?: string): Promise<EnvironmentRow[]> {
  let q = db
    .selectFrom('environments as e')
    .select((eb) => [
      'e.name',
      'e.requires_tested_in',
      'e.created_at',
      eb
        .selectFrom('desired_revisions as r')
        .whereRef('r.env', '=', 'e.name')
        .select((r) => r.fn.max('r.revision').as('m'))
        .as('revision'),
    ])
    .orderBy('e.name');
  if (name !== undefined) q = q.where('e.name', '=', name);
  const rows = await q.execute();
  return rows.map((r) => ({
    name: r.name,
    requiresTestedIn: r.requires_tested_in,
    createdAt: r.created_at,
    revision: Number(r.revision ?? 0),
  }));
}

export async function getEnvironment(db: Kysely<Tables>, name: string): Promise<EnvironmentRow | undefined> {
  return (await listEnvironments(db, name))[0];
}

export async function setRequiresTestedIn(db: Kysely<Tables>, name: string, value: string | null): Promise<void> {
  await db.updateTable('environments').set({ requires_tested_in: value }).where('name', '=', name).execute();
}

/** Names of the environments whose tested gate points at `name`. */
export async function environmentsRequiring(db: Kysely<Tables>, name: string): Promise<string[]> {
  const rows = await db.selectFrom('environments').select('name').where('requires_tested_in', '=', name).execute();
  return rows.map((r) => r.name);
}

/** Removes an environment with its history and tested marks (one transaction: pass `tx`). */
export async function deleteEnvironment(tx: Kysely<Tables>, name: string): Promise<void> {
  await tx.deleteFrom('tested_marks').where('env', '=', name).execute();
  await tx.deleteFrom('desired_revisions').where('env', '=', name).execute();
  await tx.deleteFrom('environments').where('name', '=', name).execute();
}

export async function currentRevision(db: Kysely<Tables>, env: string): Promise<RevisionRow | undefined> {
  const row = await db
    .selectFrom('desired_revisions')
    .selectAll()
    .where('env', '=', env)
    .orderBy('revision', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row ? toRevision(row) : undefined;
}

/** Only the number of the current revision: the cheap read behind every agent poll. */
export async function currentRevisionNumber(db: Kysely<Tables>, env: string): Promise<number | undefined> {
  const row = await db
    .selectFrom('desired_revisions')
    .select((eb) => eb.fn.max('revision').as('m'))
    .where('env', '=', env)
    .executeTakeFirst();
  return row?.m === null || row?.m === undefined ? undefined : Number(row.m);
}

export async function getRevision(db: Kysely<Tables>, env: string, revision: number): Promise<RevisionRow | undefined> {
  const row = await db
    .selectFrom('desired_revisions')
    .selectAll()
    .where('env', '=', env)
    .where('revision', '=', revision)
    .executeTakeFirst();
  return row ? toRevision(row) : undefined;
}

/** Inserts a revision; a concurrent writer that took the same number first makes this a Conflict. */
export async function insertRevision(db: Kysely<Tables>, rev: RevisionRow): Promise<void> {
  try {
    await db
      .insertInto('desired_revisions')
      .values({
        env: rev.environment,
        revision: rev.revision,
        versions: JSON.stringify(rev.versions),
        author: rev.author,
        comment: rev.comment,
        created_at: rev.createdAt,
      })
      .execute();
  } catch (err) {
    if (isUniqueViolation(err)) {
      throw new RevisionTaken(
        `revision ${rev.revision} of "${rev.environment}" was just written by someone else; retry`,
      );
    }
    throw err;
  }
}

/** Newest first. */
export async function listRevisions(
  db: Kysely<Tables>,
  env: string,
  opts: { limit: number; before?: number },
): Promise<RevisionRow[]> {
  let q = db.selectFrom('desired_revisions').selectAll().where('env', '=', env);
  if (opts.before !== undefined) q = q.where('revision', '<', opts.before);
  const rows = await q.orderBy('revision', 'desc').limit(opts.limit).execute();
  return rows.map(toRevision);
}

/** Marks each service@version tested in `env`; the first mark of a pair is kept. */
export async function insertTestedMarks(
  db: Kysely<Tables>,
  env: string,
  marks: Array<{ service: string; version: string }>,
  by: { revision: number; markedBy: string; markedAt: string },
): Promise<void> {
  if (marks.length === 0) return;
  await db
    .insertInto('tested_marks')
    .values(
      marks.map((m) => ({
        env,
        service: m.service,
        version: m.version,
        revision: by.revision,
        marked_by: by.markedBy,
        marked_at: by.markedAt,
      })),
    )
    .onConflict((oc) => oc.columns(['env', 'service', 'version']).doNothing())
    .execute();
}

/** The subset of `pairs` marked tested in `env`, as `service@version` strings. */
export async function testedAmong(
  db: Kysely<Tables>,
  env: string,
  pairs: Array<{ service: string; version: string }>,
): Promise<Set<string>> {
  if (pairs.length === 0) return new Set();
  const rows = await db
    .selectFrom('tested_marks')
    .select(['service', 'version'])
    .where('env', '=', env)
    .where(
      'service',
      'in',
      pairs.map((p) => p.service),
    )
    .execute();
  return new Set(rows.map((r) => `${r.service}@${r.version}`));
}
