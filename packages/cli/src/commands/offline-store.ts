import { statSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { CreatedToken, UserInfo } from '@flotilla/protocol';
import type { createAccountsService, openDatabase } from '@flotilla/server';
import { CliError } from '../api-client.ts';
import { loadServer } from '../server-package.ts';

/** Where the offline commands find the server's store. */
export interface StoreFlags {
  dataDir?: string;
  database?: string;
}

type Accounts = ReturnType<typeof createAccountsService>;
type OfflineActor = Parameters<Accounts['createUser']>[0];
type Database = ReturnType<typeof openDatabase>;

const isPostgresUrl = (location: string) => /^postgres(ql)?:\/\//.test(location);
const isFile = (path: string) => statSync(path, { throwIfNoEntry: false })?.isFile() === true;

/**
 * The store the flags name. An SQLite file must already exist: opening a misspelt path would make
 * a new, empty store, and whatever is written there would work nowhere.
 */
function storeLocation(flags: StoreFlags): string {
  if (flags.database && isPostgresUrl(flags.database)) return flags.database;
  if (flags.database) {
    const path = resolve(flags.database);
    if (!isFile(path)) {
      throw new CliError(
        `no store at ${path}: check that --database is the SQLite file the server uses (its --database; by default <data dir>/flotilla.db)`,
        2,
      );
    }
    return path;
  }
  if (!flags.dataDir) throw new CliError('add --data-dir <dir> or --database <url>', 2);
  const path = join(resolve(flags.dataDir), 'flotilla.db');
  if (!isFile(path)) {
    throw new CliError(
      `no store at ${path}: check that --data-dir is the data dir of a server that has started at least once (a server on PostgreSQL: use --database <its postgres:// URL>)`,
      2,
    );
  }
  return path;
}

/** Said of a database the server never set up, so nothing is written to the wrong one. */
function notAStore(description: string, flags: StoreFlags): CliError {
  const what = !flags.database
    ? "--data-dir is the server's data dir"
    : `--database is the ${isPostgresUrl(flags.database) ? 'URL' : 'SQLite file'} the server uses`;
  return new CliError(
    `no Flotilla store in ${description}: check that ${what}, and that the server has started with it at least once`,
    2,
  );
}

/** Looks for the server's migrations table read-only, so a file that is not a store is left untouched. */
function requireSqliteStore(path: string, flags: StoreFlags): void {
  let found: boolean;
  try {
    const file = new DatabaseSync(path, { readOnly: true });
    try {
      found =
        file.prepare("select 1 from sqlite_master where type = 'table' and name = 'kysely_migration'").get() !==
        undefined;
    } finally {
      file.close();
    }
  } catch (err) {
    throw new CliError(`cannot read the store ${path}: ${(err as Error).message}`);
  }
  if (!found) throw notAStore(`SQLite ${path}`, flags);
}

async function requirePostgresStore(database: Database, flags: StoreFlags): Promise<void> {
  let tables: Array<{ name: string }>;
  try {
    tables = await database.db.introspection.getTables({ withInternalKyselyTables: true });
  } catch (err) {
    throw new CliError(`cannot read the store ${database.description}: ${(err as Error).message}`);
  }
  if (!tables.some((t) => t.name === 'kysely_migration')) throw notAStore(database.description, flags);
}

/** Works on an existing store directly, as the local OS user, without a server or a token. */
export async function withOfflineStore<T>(
  flags: StoreFlags,
  work: (accounts: Accounts, actor: OfflineActor) => Promise<T>,
): Promise<T> {
  // The store's code is the server's: loaded only here, and not installed on an agent-only host.
  const { createAccountsService, migrateToLatest, openDatabase } = await loadServer(
    'working on the store with --data-dir or --database',
    () => import('@flotilla/server'),
  );
  const location = storeLocation(flags);
  const postgres = isPostgresUrl(location);
  if (!postgres) requireSqliteStore(location, flags);
  let database: Database;
  try {
    database = openDatabase(location);
  } catch (err) {
    throw new CliError(`cannot open the store ${location}: ${(err as Error).message}`);
  }
  try {
    if (postgres) await requirePostgresStore(database, flags);
    // A newer CLI than the server: bring the store up to the schema it writes.
    await migrateToLatest(database.db);
    const actor = { tokenId: '', name: userInfo().username, role: 'admin' as const, kind: 'local' as const };
    return await work(createAccountsService({ db: database.db }), actor);
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError((err as Error).message);
  } finally {
    await database.close();
  }
}

/** Creates a user straight in the store, so an admin can exist before any token does. */
export function addUserOffline(
  flags: StoreFlags,
  user: { name: string; role: UserInfo['role']; password: string },
): Promise<UserInfo> {
  return withOfflineStore(flags, (accounts, actor) => accounts.createUser(actor, user));
}

/** Break-glass: an admin token straight in the store, for whoever can read the server's data. */
export function createAdminTokenOffline(
  flags: StoreFlags,
  name: string,
  expiresInDays: number | undefined,
): Promise<CreatedToken> {
  return withOfflineStore(flags, (accounts, actor) => accounts.createAdminToken(actor, name, expiresInDays));
}
