import type { TokenInfo, UserInfo, UserRole } from '@flotilla/protocol';
import type { Kysely } from 'kysely';
import type { TokenKind } from '../auth/tokens.ts';
import type { Tables } from '../db/tables.ts';
import { isUniqueViolation } from '../db/unique.ts';
import { Conflict } from '../errors.ts';

type Db = Kysely<Tables>;

export interface UserRow {
  id: string;
  name: string;
  role: UserRole;
  passwordHash: string;
  createdAt: string;
  disabledAt: string | null;
}

export function publicUser(u: UserRow): UserInfo {
  return {
    id: u.id,
    name: u.name,
    role: u.role,
    createdAt: u.createdAt,
    disabled: u.disabledAt !== null,
    disabledAt: u.disabledAt,
  };
}

const userColumns = ['id', 'name', 'role', 'password_hash', 'created_at', 'disabled_at'] as const;

function toUser(r: {
  id: string;
  name: string;
  role: string;
  password_hash: string;
  created_at: string;
  disabled_at: string | null;
}): UserRow {
  return {
    id: r.id,
    name: r.name,
    role: r.role as UserRole,
    passwordHash: r.password_hash,
    createdAt: r.created_at,
    disabledAt: r.disabled_at,
  };
}

export async function insertUser(db: Db, u: UserRow): Promise<void> {
  try {
    await db
      .insertInto('users')
      .values({
        id: u.id,
        name: u.name,
        role: u.role,
        password_hash: u.passwordHash,
        created_at: u.createdAt,
        disabled_at: u.disabledAt,
      })
      .execute();
  } catch (err) {
    if (isUniqueViolation(err)) throw new Conflict(`a user named "${u.name}" already exists`);
    throw err;
  }
}

export async function findUser(db: Db, name: string): Promise<UserRow | null> {
  const row = await db.selectFrom('users').select(userColumns).where('name', '=', name).executeTakeFirst();
  return row ? toUser(row) : null;
}

/** Whether the store holds any user at all, enabled or not. */
export async function anyUser(db: Db): Promise<boolean> {
  return (await db.selectFrom('users').select('id').limit(1).executeTakeFirst()) !== undefined;
}

export async function listUsers(db: Db): Promise<UserRow[]> {
  const rows = await db.selectFrom('users').select(userColumns).orderBy('name').execute();
  return rows.map(toUser);
}

export async function updateUser(
  db: Db,
  id: string,
  set: { role?: string; passwordHash?: string; disabledAt?: string | null },
): Promise<void> {
  await db
    .updateTable('users')
    .set({
      ...(set.role !== undefined ? { role: set.role } : {}),
      ...(set.passwordHash !== undefined ? { password_hash: set.passwordHash } : {}),
      ...(set.disabledAt !== undefined ? { disabled_at: set.disabledAt } : {}),
    })
    .where('id', '=', id)
    .execute();
}

/** Revokes every live personal token of a user; returns their ids. */
export async function revokeUserTokens(db: Db, userId: string, at: string): Promise<string[]> {
  const rows = await db
    .updateTable('api_tokens')
    .set({ revoked_at: at })
    .where('user_id', '=', userId)
    .where('kind', '=', 'personal')
    .where('revoked_at', 'is', null)
    .returning('id')
    .execute();
  return rows.map((r) => r.id);
}

export interface TokenRow extends TokenInfo {
  userId: string | null;
  createdBy: string | null;
}

function tokenQuery(db: Db) {
  return db
    .selectFrom('api_tokens as t')
    .leftJoin('users as u', 'u.id', 't.user_id')
    .select([
      't.id',
      't.name',
      't.kind',
      't.role',
      't.user_id',
      't.created_by',
      't.environment',
      't.profile',
      't.created_at',
      't.last_used_at',
      't.expires_at',
      't.revoked_at',
      't.max_instances',
      'u.name as user_name',
      'u.role as user_role',
    ]);
}

type TokenSelect = Awaited<ReturnType<ReturnType<typeof tokenQuery>['execute']>>[number];

function toToken(r: TokenSelect): TokenRow {
  const kind = (r.kind ?? 'admin') as TokenKind;
  return {
    id: r.id,
    name: r.name,
    kind,
    role: kind === 'personal' ? (r.user_role ?? r.role) : r.role,
    user: r.user_name,
    environment: r.environment,
    profile: r.profile,
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
    expiresAt: r.expires_at,
    revokedAt: r.revoked_at,
    maxInstances: r.max_instances == null ? null : Number(r.max_instances),
    userId: r.user_id,
    createdBy: r.created_by,
  };
}

/** All tokens, or those a user owns (their personal tokens and the agent tokens they made). */
export async function listTokens(db: Db, ownerId?: string): Promise<TokenRow[]> {
  let q = tokenQuery(db);
  if (ownerId !== undefined) {
    q = q.where((eb) => eb.or([eb('t.user_id', '=', ownerId), eb('t.created_by', '=', ownerId)]));
  }
  const rows = await q.orderBy('t.created_at', 'desc').orderBy('t.id').execute();
  return rows.map(toToken);
}

export async function findToken(db: Db, id: string): Promise<TokenRow | null> {
  const row = await tokenQuery(db).where('t.id', '=', id).executeTakeFirst();
  return row ? toToken(row) : null;
}

export async function revokeToken(db: Db, id: string, at: string): Promise<void> {
  await db.updateTable('api_tokens').set({ revoked_at: at }).where('id', '=', id).execute();
}
