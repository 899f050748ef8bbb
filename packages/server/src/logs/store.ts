import { type Kysely, sql, type Transaction } from 'kysely';
import type { Dialect } from '../db/connection.ts';
import type { Tables } from '../db/tables.ts';
import type { LogFilter } from './lines.ts';
import type { LogLinesTable } from './tables.ts';

// 13 parameters a row: 500 rows stay far below SQLite's 32766 and PostgreSQL's 65535 bound parameters.
const insertChunk = 500;

export interface LineWriters {
  /** Runs a transaction durably (default: a plain transaction). */
  commit?: <T>(work: (tx: Transaction<Tables>) => Promise<T>) => Promise<T>;
  /** Runs one statement durably, without a transaction where the store allows it (Database.writeOne). */
  writeOne?: <T>(work: (db: Kysely<Tables>) => Promise<T>) => Promise<T>;
}

/** Stores the lines atomically in multi-row inserts: one statement up to 500 lines, else one transaction. */
export async function insertLines(db: Kysely<Tables>, rows: LogLinesTable[], writers: LineWriters = {}): Promise<void> {
  if (rows.length === 0) return;
  if (rows.length <= insertChunk && writers.writeOne) {
    await writers.writeOne((one) => one.insertInto('log_lines').values(rows).execute());
    return;
  }
  const commit = writers.commit ?? ((work) => db.transaction().execute(work));
  await commit(async (tx) => {
    for (let i = 0; i < rows.length; i += insertChunk) {
      await tx
        .insertInto('log_lines')
        .values(rows.slice(i, i + insertChunk))
        .execute();
    }
  });
}

/** `%`, `_` and the escape character itself match only themselves. */
export function likePattern(needle: string): string {
  return `%${needle.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export interface SearchOptions extends LogFilter {
  limit: number;
  /** Only lines before this (time, id): the last line of the previous page. */
  before?: { time: number; id: string };
}

/** Matching lines, newest first. */
export async function searchLines(db: Kysely<Tables>, dialect: Dialect, o: SearchOptions): Promise<LogLinesTable[]> {
  let query = db.selectFrom('log_lines').selectAll();
  if (o.service !== undefined) query = query.where('service', '=', o.service);
  if (o.instance !== undefined) query = query.where('instance_id', '=', o.instance);
  if (o.environment !== undefined) query = query.where('environment', '=', o.environment);
  if (o.version !== undefined) query = query.where('version', '=', o.version);
  if (o.minRank !== undefined && o.minRank > 0) query = query.where('level_rank', '>=', o.minRank);
  if (o.from !== undefined) query = query.where('time', '>=', o.from);
  if (o.to !== undefined) query = query.where('time', '<=', o.to);
  if (o.q !== undefined && o.q !== '') {
    // SQLite's LIKE ignores ASCII case; PostgreSQL's LIKE does not, ILIKE does.
    const op = sql.raw(dialect === 'postgres' ? 'ilike' : 'like');
    query = query.where(sql<boolean>`${sql.ref('message')} ${op} ${likePattern(o.q)} escape ${sql.lit('\\')}`);
  }
  const before = o.before;
  if (before) {
    // The range bound on `time` lets the (…, time, id) indexes do the work.
    query = query
      .where('time', '<=', before.time)
      .where((eb) => eb.or([eb('time', '<', before.time), eb('id', '<', before.id)]));
  }
  const rows = await query.orderBy('time', 'desc').orderBy('id', 'desc').limit(o.limit).execute();
  return rows.map((r) => ({ ...r, time: Number(r.time), received_at: Number(r.received_at) }));
}

/** Deletes up to `chunk` lines older than `cutoff`; returns how many went. */
export async function deleteOlderThan(db: Kysely<Tables>, cutoff: number, chunk: number): Promise<number> {
  const result = await db
    .deleteFrom('log_lines')
    .where('id', 'in', (eb) => eb.selectFrom('log_lines').select('id').where('time', '<', cutoff).limit(chunk))
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
