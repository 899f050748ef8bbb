import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Tables } from '../db/tables.ts';
import { ConfigError } from '../errors.ts';

/** A key this server holds in its data directory, named by a fingerprint that reveals nothing secret. */
export interface HeldKey {
  name: string;
  fingerprint: string;
  /** Where the key lives, for the message. */
  location: string;
}

export const fingerprint = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/**
 * Records the fingerprints of the keys the first server on a database holds, and refuses a server whose
 * keys differ: agents pin the signing key, mesh certificates chain to the CA and sealed files need the
 * same key, so replicas with keys of their own would answer agents in ways other replicas contradict.
 */
export async function agreeOnServerKeys(db: Kysely<Tables>, keys: HeldKey[], now = new Date()): Promise<void> {
  for (const key of keys) {
    await db
      .insertInto('server_keys')
      .values({ name: key.name, fingerprint: key.fingerprint, recorded_at: now.toISOString() })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
    const recorded = await db
      .selectFrom('server_keys')
      .select(['fingerprint', 'recorded_at'])
      .where('name', '=', key.name)
      .executeTakeFirstOrThrow();
    if (recorded.fingerprint !== key.fingerprint) {
      throw new ConfigError(
        `this server's ${key.name} key (${key.location}, fingerprint ${key.fingerprint.slice(0, 16)}) differs from the one ` +
          `the servers on this database have used since ${recorded.recorded_at} (fingerprint ${recorded.fingerprint.slice(0, 16)}): ` +
          'replicas must hold the same keys; copy them from the data directory of a running replica (docs/operations.md#replicas)',
      );
    }
  }
}
