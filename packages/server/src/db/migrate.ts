import { type Kysely, type Migration, Migrator } from 'kysely';
import * as m0001 from './migrations/0001-checkins.ts';
import * as m0002 from './migrations/0002-accounts.ts';
import * as m0003 from './migrations/0003-catalog.ts';
import * as m0004 from './migrations/0004-desired.ts';
import * as m0005 from './migrations/0005-rollouts.ts';
import * as m0006 from './migrations/0006-logs.ts';
import * as m0007 from './migrations/0007-faults.ts';
import * as m0008 from './migrations/0008-rollout-admitted.ts';
import * as m0009 from './migrations/0009-agent-identity.ts';
import * as m0010 from './migrations/0010-fault-retention.ts';
import * as m0011 from './migrations/0011-drift.ts';
import * as m0012 from './migrations/0012-drift-resolution.ts';
import * as m0013 from './migrations/0013-mesh.ts';
import * as m0014 from './migrations/0014-drift-pending-index.ts';
import * as m0015 from './migrations/0015-private-files.ts';
import * as m0016 from './migrations/0016-builds.ts';
import * as m0017 from './migrations/0017-restorable-deletes.ts';
import * as m0018 from './migrations/0018-client-versions.ts';
import * as m0019 from './migrations/0019-federation.ts';
import * as m0020 from './migrations/0020-cluster.ts';
import * as m0021 from './migrations/0021-server-keys.ts';
import * as m0022 from './migrations/0022-instance-report-digest.ts';
import * as m0023 from './migrations/0023-client-builds.ts';

/** A static list, so the built package needs no folder scanning. Append only; never edit a shipped one. */
export const migrations: Record<string, Migration> = {
  '0001-checkins': m0001,
  '0002-accounts': m0002,
  '0003-catalog': m0003,
  '0004-desired': m0004,
  '0005-rollouts': m0005,
  '0006-logs': m0006,
  '0007-faults': m0007,
  '0008-rollout-admitted': m0008,
  '0009-agent-identity': m0009,
  '0010-fault-retention': m0010,
  '0011-drift': m0011,
  '0012-drift-resolution': m0012,
  '0013-mesh': m0013,
  '0014-drift-pending-index': m0014,
  '0015-private-files': m0015,
  '0016-builds': m0016,
  '0017-restorable-deletes': m0017,
  '0018-client-versions': m0018,
  '0019-federation': m0019,
  '0020-cluster': m0020,
  '0021-server-keys': m0021,
  '0022-instance-report-digest': m0022,
  '0023-client-builds': m0023,
};

// biome-ignore lint/suspicious/noExplicitAny: the migrator works on any schema
export function createMigrator(db: Kysely<any>): Migrator {
  return new Migrator({ db, provider: { getMigrations: async () => migrations } });
}

// biome-ignore lint/suspicious/noExplicitAny: the migrator works on any schema
export async function migrateToLatest(db: Kysely<any>): Promise<string[]> {
  const { error, results } = await createMigrator(db).migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
