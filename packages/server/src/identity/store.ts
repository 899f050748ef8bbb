import type { Kysely } from 'kysely';
import { prepared } from '../db/prepared.ts';
import type { Tables } from '../db/tables.ts';

type Db = Kysely<Tables>;

export interface IdentityRow {
  instanceId: string;
  environment: string;
  profile: string | null;
  tokenId: string;
  tokenName: string | null;
  publicKey: string | null;
  enrolledAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

function identityQuery(db: Db) {
  return db
    .selectFrom('agent_identities as i')
    .leftJoin('api_tokens as t', 't.id', 'i.token_id')
    .select([
      'i.instance_id',
      'i.environment',
      'i.profile',
      'i.token_id',
      't.name as token_name',
      'i.public_key',
      'i.enrolled_at',
      'i.last_used_at',
      'i.revoked_at',
    ]);
}

type IdentitySelect = Awaited<ReturnType<ReturnType<typeof identityQuery>['execute']>>[number];

function toIdentity(r: IdentitySelect): IdentityRow {
  return {
    instanceId: r.instance_id,
    environment: r.environment,
    profile: r.profile,
    tokenId: r.token_id,
    tokenName: r.token_name,
    publicKey: r.public_key,
    enrolledAt: r.enrolled_at,
    lastUsedAt: r.last_used_at,
    revokedAt: r.revoked_at,
  };
}

// Looked up on every drift report that names a place, so compiled once.
const identityById = prepared<Tables, IdentitySelect, [string]>((db) =>
  identityQuery(db).where('i.instance_id', '=', ''),
);

export async function findIdentity(db: Db, instanceId: string): Promise<IdentityRow | undefined> {
  const [row] = (await identityById(db, instanceId)).rows;
  return row && toIdentity(row);
}

export async function listIdentities(
  db: Db,
  filter: { environment?: string; revoked?: boolean },
): Promise<IdentityRow[]> {
  let q = identityQuery(db);
  if (filter.environment !== undefined) q = q.where('i.environment', '=', filter.environment);
  if (filter.revoked === true) q = q.where('i.revoked_at', 'is not', null);
  if (filter.revoked === false) q = q.where('i.revoked_at', 'is', null);
  return (await q.orderBy('i.instance_id').execute()).map(toIdentity);
}

/** How many live (unrevoked) instances a token has enrolled. */
export async function countLiveIdentities(db: Db, tokenId: string): Promise<number> {
  const row = await db
    .selectFrom('agent_identities')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('token_id', '=', tokenId)
    .where('revoked_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function insertIdentity(db: Db, row: Tables['agent_identities']): Promise<void> {
  await db.insertInto('agent_identities').values(row).execute();
}

/** Gives a revoked instance a new identity; false when it is no longer revoked (a concurrent enrolment). */
export async function replaceRevokedIdentity(db: Db, row: Tables['agent_identities']): Promise<boolean> {
  const result = await db
    .updateTable('agent_identities')
    .set({ ...row, revoked_at: null, last_used_at: null })
    .where('instance_id', '=', row.instance_id)
    .where('revoked_at', 'is not', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** The environment an instance last reported in, if any (rows from before enrolment existed too). */
export async function reportedEnvironment(db: Db, instanceId: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('instances')
    .select('environment')
    .where('instance_id', '=', instanceId)
    .executeTakeFirst();
  return row?.environment;
}

/** Takes the token's row lock (PostgreSQL), so that enrolments by one token are counted one at a time. */
export async function lockToken(db: Db, tokenId: string, at: string): Promise<number | null | undefined> {
  await db.updateTable('api_tokens').set({ last_used_at: at }).where('id', '=', tokenId).execute();
  const row = await db.selectFrom('api_tokens').select('max_instances').where('id', '=', tokenId).executeTakeFirst();
  if (!row) return undefined;
  return row.max_instances == null ? null : Number(row.max_instances);
}

export async function revokeIdentity(db: Db, instanceId: string, at: string): Promise<void> {
  await db.updateTable('agent_identities').set({ revoked_at: at }).where('instance_id', '=', instanceId).execute();
}

function credentialQuery(db: Db) {
  return identityQuery(db)
    .select(['i.credential_hash', 't.revoked_at as token_revoked_at', 't.expires_at as token_expires_at'])
    .where('i.credential_hash', '=', '');
}

// Every agent request authenticates with its credential (thousands at once after a change), so compiled once.
const identityByCredentialHash = prepared<
  Tables,
  Awaited<ReturnType<ReturnType<typeof credentialQuery>['execute']>>[number],
  [string]
>(credentialQuery);

/** The identity a credential hash belongs to, with the state of the token that enrolled it. */
export async function identityByCredential(db: Db, credentialHash: string) {
  const [row] = (await identityByCredentialHash(db, credentialHash)).rows;
  return row;
}

/** Records a use of these instances' credentials at `at` (one statement for many requests). */
export async function touchIdentities(db: Db, instanceIds: string[], at: string): Promise<void> {
  if (instanceIds.length === 0) return;
  await db.updateTable('agent_identities').set({ last_used_at: at }).where('instance_id', 'in', instanceIds).execute();
}
