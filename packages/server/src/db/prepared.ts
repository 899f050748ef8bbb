import { CompiledQuery, type Kysely, type QueryResult } from 'kysely';

/**
 * A query built and compiled once per database, for the per-request lookups of hot paths (tokens,
 * identities): each call binds its parameters to the compiled SQL, with no query building. `build`
 * must use one parameter per argument, in order (the values it is given are placeholders).
 */
export function prepared<DB, Row, Args extends unknown[]>(
  build: (db: Kysely<DB>) => { compile(): CompiledQuery<Row> },
): (db: Kysely<DB>, ...args: Args) => Promise<QueryResult<Row>> {
  const compiled = new WeakMap<Kysely<DB>, CompiledQuery<Row>>();
  return async (db, ...args) => {
    let query = compiled.get(db);
    if (!query) {
      query = build(db).compile();
      if (query.parameters.length !== args.length)
        throw new Error(`a prepared query takes ${query.parameters.length} parameters, not ${args.length}`);
      compiled.set(db, query);
    }
    return db.executeQuery(CompiledQuery.raw(query.sql, args) as CompiledQuery<Row>);
  };
}
