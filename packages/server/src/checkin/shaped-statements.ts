import { type Compilable, CompiledQuery, type Kysely, type QueryResult } from 'kysely';
import type { Tables } from '../db/tables.ts';

// One cache per dialect adapter: a process may talk to SQLite and PostgreSQL (the tests do).
const byAdapter = new WeakMap<object, Map<string, string>>();

/**
 * Runs a multi-row statement whose SQL text is built by Kysely once per shape (statement and row
 * count) and then only given new values: building a 256-row insert costs more than running it.
 * Values are bound in row order, then in each row's key order, as Kysely binds them; the first
 * build of a shape checks that.
 */
export async function executeShaped<Row extends object, R>(
  db: Kysely<Tables>,
  shape: string,
  rows: Row[],
  build: (rows: Row[]) => Compilable<R>,
): Promise<QueryResult<R>> {
  const adapter = db.getExecutor().adapter;
  let cache = byAdapter.get(adapter);
  if (!cache) {
    cache = new Map();
    byAdapter.set(adapter, cache);
  }
  const key = `${shape}:${rows.length}`;
  const parameters: unknown[] = [];
  for (const row of rows) for (const value of Object.values(row)) parameters.push(value);
  const known = cache.get(key);
  if (known !== undefined) return db.executeQuery<R>(CompiledQuery.raw(known, parameters));
  const compiled = build(rows).compile();
  const sameBinding =
    compiled.parameters.length === parameters.length && compiled.parameters.every((p, i) => p === parameters[i]);
  if (sameBinding) cache.set(key, compiled.sql);
  return db.executeQuery<R>(compiled);
}
