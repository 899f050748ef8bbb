import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Tables } from '../db/tables.ts';
import { Forbidden, Unauthorized } from '../errors.ts';

export type Role = 'admin' | 'developer' | 'viewer' | 'agent';

export interface Principal {
  tokenId: string;
  name: string;
  role: Role;
  /** The user a personal token belongs to. */
  userId?: string | null;
  /** For agent tokens: the environment (and optional profile) the agent belongs to. */
  environment?: string | null;
  profile?: string | null;
}

/** Tokens are 256 random bits, so one SHA-256 is enough at rest; passwords get a slow KDF instead. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function generateToken(): string {
  return `flt_${randomBytes(32).toString('base64url')}`;
}

const roleRank: Record<Role, number> = { agent: 0, viewer: 1, developer: 2, admin: 3 };

export function requireRole(principal: Principal, needed: Exclude<Role, 'agent'>): void {
  if (principal.role === 'agent' || roleRank[principal.role] < roleRank[needed]) {
    throw new Forbidden(`this needs the ${needed} role; the token "${principal.name}" has ${principal.role}`);
  }
}

export class TokenStore {
  readonly #db: Kysely<Tables>;
  readonly #lastTouched = new Map<string, number>();

  constructor(db: Kysely<Tables>) {
    this.#db = db;
  }

  async create(name: string, role: Role, token = generateToken()): Promise<{ id: string; token: string }> {
    const id = randomUUID();
    await this.#db
      .insertInto('api_tokens')
      .values({
        id,
        name,
        role,
        token_hash: hashToken(token),
        created_at: new Date().toISOString(),
        last_used_at: null,
        revoked_at: null,
      })
      .execute();
    return { id, token };
  }

  async hasActiveAdmin(): Promise<boolean> {
    const row = await this.#db
      .selectFrom('api_tokens')
      .select('id')
      .where('role', '=', 'admin')
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Makes FLOTILLA_ADMIN_TOKEN a valid admin token, replacing an earlier value of it. */
  async ensureEnvAdmin(token: string): Promise<void> {
    const hash = hashToken(token);
    await this.#db.transaction().execute(async (tx) => {
      await tx
        .deleteFrom('api_tokens')
        .where('name', '=', 'FLOTILLA_ADMIN_TOKEN')
        .where('token_hash', '!=', hash)
        .execute();
      const existing = await tx.selectFrom('api_tokens').select('id').where('token_hash', '=', hash).executeTakeFirst();
      if (!existing) {
        await tx
          .insertInto('api_tokens')
          .values({
            id: randomUUID(),
            name: 'FLOTILLA_ADMIN_TOKEN',
            role: 'admin',
            token_hash: hash,
            created_at: new Date().toISOString(),
            last_used_at: null,
            revoked_at: null,
          })
          .execute();
      }
    });
  }

  /** Resolves a bearer token to its principal or throws Unauthorized. */
  async authenticate(header: string | undefined): Promise<Principal> {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    if (!match) throw new Unauthorized('send "Authorization: Bearer <token>"');
    const hash = hashToken(match[1] as string);
    const row = await this.#db
      .selectFrom('api_tokens')
      .select(['id', 'name', 'role', 'token_hash'])
      .where('token_hash', '=', hash)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (!row || !timingSafeEqual(Buffer.from(row.token_hash), Buffer.from(hash))) {
      throw new Unauthorized('the token is unknown or revoked');
    }
    await this.#touch(row.id);
    return { tokenId: row.id, name: row.name, role: row.role as Role };
  }

  /** Records last use at most once a minute per token, to keep reads cheap. */
  async #touch(id: string): Promise<void> {
    const now = Date.now();
    if (now - (this.#lastTouched.get(id) ?? 0) < 60_000) return;
    this.#lastTouched.set(id, now);
    await this.#db
      .updateTable('api_tokens')
      .set({ last_used_at: new Date(now).toISOString() })
      .where('id', '=', id)
      .execute();
  }
}
