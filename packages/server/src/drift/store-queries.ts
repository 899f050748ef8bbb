import type { Kysely, SelectQueryBuilder } from 'kysely';
import { sql } from 'kysely';
import type { Tables } from '../db/tables.ts';
import { Invalid } from '../errors.ts';
import { type SubjectRow, toSubject } from './store.ts';

/** `patch|minor|major`: at least that far behind; `current`: none; `unknown`: could not be compared. */
export const behindFilters = ['patch', 'minor', 'major', 'current', 'unknown'] as const;
export type BehindFilter = (typeof behindFilters)[number];

const behindValues: Record<BehindFilter, string[]> = {
  patch: ['patch', 'minor', 'major'],
  minor: ['minor', 'major'],
  major: ['major'],
  current: ['none'],
  unknown: ['unknown'],
};

export interface SubjectFilter {
  environment?: string;
  place?: string;
  subject?: string;
  /** Every pair must be among the place's tags. */
  tags?: Array<[string, string]>;
  behind?: BehindFilter;
  stale?: boolean;
  limit: number;
  /** The `next` cursor of the previous page. */
  after?: string;
}

export interface SubjectPage {
  items: SubjectRow[];
  /** Cursor of the next page; null on the last one. */
  next: string | null;
}

// The cursor is the last row's key, opaque to clients; rows are ordered by that key, so paging is stable.
function encodeCursor(r: SubjectRow): string {
  return Buffer.from(JSON.stringify([r.environment, r.place, r.subject])).toString('base64url');
}

function decodeCursor(cursor: string): [string, string, string] {
  try {
    const key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(key) && key.length === 3 && key.every((k) => typeof k === 'string'))
      return key as [string, string, string];
  } catch {}
  throw new Invalid('after: not a cursor this server issued');
}

const likeEscaped = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

type Query = SelectQueryBuilder<Tables, 'drift_subjects', Tables['drift_subjects']>;

function filtered(db: Kysely<Tables>, f: SubjectFilter, after: [string, string, string] | undefined): Query {
  let q = db.selectFrom('drift_subjects').selectAll() as Query;
  if (f.environment !== undefined) q = q.where('environment', '=', f.environment);
  if (f.place !== undefined) q = q.where('place', '=', f.place);
  if (f.subject !== undefined) q = q.where('subject', '=', f.subject);
  if (f.behind !== undefined) q = q.where('behind', 'in', behindValues[f.behind]);
  if (f.stale !== undefined) q = q.where('stale_since', f.stale ? 'is not' : 'is', null);
  // Tags are stored as JSON with sorted keys: `"k":"v"` narrows portably in SQL, and `matchesTags`
  // then checks the parsed object (LIKE is case-blind on SQLite and a quote inside a key could fool it).
  for (const [k, v] of f.tags ?? []) {
    const needle = `%${likeEscaped(`${JSON.stringify(k)}:${JSON.stringify(v)}`)}%`;
    q = q.where(sql<boolean>`${sql.ref('tags')} like ${needle} escape ${sql.lit('\\')}`);
  }
  if (after !== undefined) {
    const [environment, place, subject] = after;
    q = q.where((eb) =>
      eb.or([
        eb('environment', '>', environment),
        eb.and([eb('environment', '=', environment), eb('place', '>', place)]),
        eb.and([eb('environment', '=', environment), eb('place', '=', place), eb('subject', '>', subject)]),
      ]),
    );
  }
  return q.orderBy('environment').orderBy('place').orderBy('subject');
}

const matchesTags = (row: SubjectRow, tags: Array<[string, string]> | undefined) =>
  (tags ?? []).every(([k, v]) => Object.hasOwn(row.tags, k) && row.tags[k] === v);

/** Ordered by (environment, place, subject); `next` resumes after the last row returned. */
export async function listSubjects(db: Kysely<Tables>, f: SubjectFilter): Promise<SubjectPage> {
  if (!Number.isInteger(f.limit) || f.limit < 1) throw new Invalid('limit must be a positive integer');
  const want = f.limit + 1;
  const found: SubjectRow[] = [];
  let after = f.after === undefined ? undefined : decodeCursor(f.after);
  // A row the SQL narrowing let through but the tag check refused leaves the page short: read on.
  for (;;) {
    const rows = (await filtered(db, f, after).limit(want).execute()).map(toSubject);
    found.push(...rows.filter((r) => matchesTags(r, f.tags)));
    const last = rows.at(-1);
    if (rows.length < want || found.length >= want || !last) break;
    after = [last.environment, last.place, last.subject];
  }
  const items = found.slice(0, f.limit);
  const last = items.at(-1);
  return { items, next: found.length > f.limit && last ? encodeCursor(last) : null };
}

/** Places running `subject` (any version, or only `version`), with only the matching versions. */
export async function whereSubject(db: Kysely<Tables>, subject: string, version?: string): Promise<SubjectRow[]> {
  const rows = await placesOf(db, subject);
  const out: SubjectRow[] = [];
  for (const row of rows) {
    if (version === undefined) out.push(row);
    else {
      const versions = row.versions.filter((v) => v.runningVersion === version);
      if (versions.length > 0) out.push({ ...row, versions });
    }
  }
  return out;
}

/** Every place reporting `subject`, ordered by (environment, place). */
export async function placesOf(db: Kysely<Tables>, subject: string): Promise<SubjectRow[]> {
  const rows = await db
    .selectFrom('drift_subjects')
    .selectAll()
    .where('subject', '=', subject)
    .orderBy('environment')
    .orderBy('place')
    .execute();
  return rows.map(toSubject);
}

/** One place's subjects (`subject` given: only that one); the most recently reported environment first. */
export async function placeSubjects(
  db: Kysely<Tables>,
  place: string,
  subject?: string,
  environment?: string,
): Promise<SubjectRow[]> {
  let q = db.selectFrom('drift_subjects').selectAll().where('place', '=', place);
  if (subject !== undefined) q = q.where('subject', '=', subject);
  if (environment !== undefined) q = q.where('environment', '=', environment);
  const rows = await q.orderBy('reported_at', 'desc').orderBy('environment').orderBy('subject').execute();
  return rows.map(toSubject);
}
