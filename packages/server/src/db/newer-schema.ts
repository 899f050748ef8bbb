// An older server on a database a newer one migrated: its queries may not match the tables any
// more, so it refuses to start and says which migrations it does not know (docs/self-update.md).
import { type Kysely, sql } from 'kysely';
import { ConfigError } from '../errors.ts';
import { migrations } from './migrate.ts';

/** The migrations recorded in the database that this server does not have, oldest first. */
// biome-ignore lint/suspicious/noExplicitAny: read before any table type applies
export async function unknownMigrations(db: Kysely<any>, known: readonly string[] = Object.keys(migrations)) {
  let applied: string[];
  try {
    const rows = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(db);
    applied = rows.rows.map((r) => r.name);
  } catch {
    // A new database: Kysely creates the table on the first migration.
    return [];
  }
  const mine = new Set(known);
  return applied.filter((name) => !mine.has(name));
}

/** Throws a `ConfigError` naming the newer migrations; without this, Kysely's "corrupted migrations" is all one reads. */
// biome-ignore lint/suspicious/noExplicitAny: read before any table type applies
export async function refuseNewerSchema(db: Kysely<any>, serverVersion: string, known?: readonly string[]) {
  const newer = await unknownMigrations(db, known);
  if (newer.length === 0) return;
  throw new ConfigError(
    `the database was migrated by a newer Flotilla server (migration ${newer.join(', ')}), which this server ` +
      `(${serverVersion}) does not know; it will not run on a schema it cannot read. Start the newer ` +
      'version again, or restore the backup of the data taken before the update (docs/self-update.md)',
  );
}
