import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

type Param = null | number | bigint | string | NodeJS.ArrayBufferView;

/**
 * Lets Kysely's own SqliteDialect drive the built-in node:sqlite module (no native addon to build).
 * Prepared statements are cached by SQL text, since the hot paths repeat the same few queries.
 */
export function nodeSqliteDatabase(db: DatabaseSync, cacheSize = 200): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  const wrap = (stmt: StatementSync): SqliteStatement => ({
    reader: stmt.columns().length > 0,
    all: (params) => stmt.all(...(params as Param[])),
    run: (params) => {
      const { changes, lastInsertRowid } = stmt.run(...(params as Param[]));
      return { changes, lastInsertRowid };
    },
    iterate: (params) => stmt.iterate(...(params as Param[])) as IterableIterator<unknown>,
  });
  return {
    close: () => db.close(),
    prepare(sql: string) {
      let stmt = cache.get(sql);
      if (!stmt) {
        if (cache.size >= cacheSize) cache.delete(cache.keys().next().value as string);
        stmt = wrap(db.prepare(sql));
        cache.set(sql, stmt);
      }
      return stmt;
    },
  };
}
