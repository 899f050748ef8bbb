import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import { batched } from '../db/batched.ts';
import type { Database } from '../db/connection.ts';
import { prepared } from '../db/prepared.ts';
import type { Tables } from '../db/tables.ts';
import { Forbidden, Unauthorized } from '../errors.ts';
import { identityByCredential, touchIdentities } from '../identity/store.ts';
import { BuildCredentials, buildCredentialPrefix } from './build-credentials.ts';

export type Role = 'admin' | 'developer' | 'viewer' | 'agent';
export type TokenKind = 'admin' | 'personal' | 'agent';

export interface Principal {
  tokenId: string;
  /** The token's name. */
  name: string;
  role: Role;
  /**
   * `local` is the offline CLI working on the store directly, with no token; `instance` an enrolled
   * agent; `build` a server build job's credential (auth/build-credentials.ts).
   */
  kind?: TokenKind | 'local' | 'instance' | 'build';
  /** The user a personal token belongs to. */
  userId?: string | null;
  userName?: string | null;
  /** For agent tokens: the environment (and optional profile) the agent belongs to. */
  environment?: string | null;
  profile?: string | null;
  /** For instance credentials: the one instance they speak for. */
  instanceId?: string | null;
}

/** Prefix of instance credentials (agent tokens are `flt_`). */
export const instanceCredentialPrefix = 'fli_';

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

/** Who a version, revision or rollout is credited to: the user of a personal token, else the token's name. */
export function authorName(principal: Principal): string {
  return principal.userName ?? principal.name;
}

/** How the audit log names who acted: the user for personal tokens, else the token. */
export function actorLabel(principal: Principal): string {
  if (principal.userName) return principal.userName;
  if (principal.kind === 'local') return `local:${principal.name}`;
  return `token:${principal.name}`;
}

export interface NewToken {
  kind?: TokenKind;
  userId?: string | null;
  environment?: string | null;
  profile?: string | null;
  expiresAt?: string | null;
  createdBy?: string | null;
  /** Agent tokens: how many instances the token may enrol. */
  maxInstances?: number | null;
}

/** The row to insert for a new token; the token itself is never stored. */
export function tokenRow(name: string, role: Role, token: string, extra: NewToken = {}) {
  return {
    id: randomUUID(),
    name,
    role,
    token_hash: hashToken(token),
    created_at: new Date().toISOString(),
    last_used_at: null,
    revoked_at: null,
    kind: extra.kind ?? 'admin',
    user_id: extra.userId ?? null,
    environment: extra.environment ?? null,
    profile: extra.profile ?? null,
    expires_at: extra.expiresAt ?? null,
    created_by: extra.createdBy ?? null,
    max_instances: extra.maxInstances ?? null,
  };
}

// Every API request authenticates, so the lookup is compiled once.
const tokenByHash = prepared<Tables, TokenLookupRow, [string]>((db) =>
  db
    .selectFrom('api_tokens as t')
    .leftJoin('users as u', 'u.id', 't.user_id')
    .select([
      't.id',
      't.name',
      't.role',
      't.token_hash',
      't.kind',
      't.user_id',
      't.environment',
      't.profile',
      't.expires_at',
      't.revoked_at',
      'u.name as user_name',
      'u.role as user_role',
      'u.disabled_at as user_disabled_at',
    ])
    .where('t.token_hash', '=', ''),
);
type TokenLookupRow = {
  id: string;
  name: string;
  role: string;
  token_hash: string;
  kind: string | null;
  user_id: string | null;
  environment: string | null;
  profile: string | null;
  expires_at: string | null;
  revoked_at: string | null;
  user_name: string | null;
  user_role: string | null;
  user_disabled_at: string | null;
};

/**
 * How long a found credential row is reused. Writes through any replica, and the loss of their notices,
 * drop it at once; only a program writing the store beside the server (`--data-dir` commands) waits
 * this long. Longer than an agent's report interval, so a fleet's polls after a change find theirs.
 */
export const foundCredentialMs = 30_000;
const maxFoundCredentials = 100_000;

export class TokenStore {
  readonly #db: Kysely<Tables>;
  readonly #lastTouched = new Map<string, number>();
  readonly #now: () => number;
  /** Credentials of the server's running build jobs, in memory only. */
  readonly buildCredentials: BuildCredentials;

  /** Writes last-use times without waiting for their sync (Database.commitPipelined); plain by default. */
  readonly #commitLazily: Database['commitPipelined'] | undefined;
  /** Credential rows found recently, by hash; only where every write is seen (see Database.watchWrites). */
  readonly #found: Map<string, { row: unknown; until: number }> | null;
  /** Instances' last uses, many requests' to one statement (a fleet polls again at once after a change). */
  readonly #touchInstance = batched(async (uses: Array<{ instanceId: string; at: number }>) => {
    const at = new Date(Math.max(...uses.map((u) => u.at))).toISOString();
    await this.#writeLastUse((db) => touchIdentities(db, [...new Set(uses.map((u) => u.instanceId))], at));
    return uses.map(() => undefined);
  });

  constructor(
    db: Kysely<Tables>,
    now: () => number = Date.now,
    options: { commitLazily?: Database['commitPipelined']; watchWrites?: Database['watchWrites'] } = {},
  ) {
    this.#db = db;
    this.#now = now;
    this.#commitLazily = options.commitLazily;
    this.buildCredentials = new BuildCredentials(now);
    this.#found = options.watchWrites ? new Map() : null;
    // Any write to a credential, its token or its user (a revocation, a disabled user) drops them all.
    options.watchWrites?.(['api_tokens', 'agent_identities', 'users'], () => this.#found?.clear());
  }

  /**
   * The row `lookup` finds for a credential hash, reused for a few seconds: after a desired-version
   * change every agent of a fleet polls again within a second, each with its credential.
   */
  async #lookup<T>(key: string, lookup: () => Promise<T | undefined>): Promise<T | undefined> {
    const found = this.#found;
    if (!found) return lookup();
    const hit = found.get(key);
    if (hit && hit.until > this.#now()) return hit.row as T;
    const row = await lookup();
    if (row !== undefined) {
      if (found.size >= maxFoundCredentials) found.clear();
      found.set(key, { row, until: this.#now() + foundCredentialMs });
    }
    return row;
  }

  /** A last-use write: losing one in a crash costs nothing, so a request never waits for its sync. */
  async #writeLastUse(work: (db: Kysely<Tables>) => Promise<unknown>): Promise<void> {
    // A store that cannot write refuses the requests that need it; authentication goes on meanwhile.
    if (!this.#commitLazily) {
      // One statement (PostgreSQL): it commits by itself, durable when it returns.
      await work(this.#db).catch(() => undefined);
      return;
    }
    const written = await this.#commitLazily(work).catch(() => undefined);
    written?.durable.catch(() => {});
  }

  async create(
    name: string,
    role: Role,
    token = generateToken(),
    extra: NewToken = {},
  ): Promise<{ id: string; token: string }> {
    const row = tokenRow(name, role, token, extra);
    await this.#db.insertInto('api_tokens').values(row).execute();
    return { id: row.id, token };
  }

  /** An unrevoked admin token, or an enabled admin user who can log in. */
  async hasActiveAdmin(): Promise<boolean> {
    const now = new Date(this.#now()).toISOString();
    const token = await this.#db
      .selectFrom('api_tokens')
      .select('id')
      .where('role', '=', 'admin')
      .where((eb) => eb.or([eb('kind', '=', 'admin'), eb('kind', 'is', null)]))
      .where('revoked_at', 'is', null)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
      .executeTakeFirst();
    if (token) return true;
    const user = await this.#db
      .selectFrom('users')
      .select('id')
      .where('role', '=', 'admin')
      .where('disabled_at', 'is', null)
      .executeTakeFirst();
    return user !== undefined;
  }

  /** Makes FLOTILLA_ADMIN_TOKEN a valid admin token, replacing an earlier value of it. */
  async ensureEnvAdmin(token: string): Promise<void> {
    const hash = hashToken(token);
    await this.#db.transaction().execute(async (tx) => {
      await tx
        .deleteFrom('api_tokens')
        .where('name', '=', 'FLOTILLA_ADMIN_TOKEN')
        .where('kind', '=', 'admin')
        .where('token_hash', '!=', hash)
        .execute();
      const existing = await tx.selectFrom('api_tokens').select('id').where('token_hash', '=', hash).executeTakeFirst();
      if (!existing) {
        await tx
          .insertInto('api_tokens')
          .values(tokenRow('FLOTILLA_ADMIN_TOKEN', 'admin', token))
          .execute();
      } else {
        // The environment says this token is valid, so a revocation through the API lasts until restart.
        await tx.updateTable('api_tokens').set({ revoked_at: null }).where('id', '=', existing.id).execute();
      }
    });
  }

  /** Resolves a bearer token to its principal or throws Unauthorized. */
  async authenticate(header: string | undefined): Promise<Principal> {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    if (!match) throw new Unauthorized('send "Authorization: Bearer <token>"');
    const bearer = match[1] as string;
    if (bearer.startsWith(instanceCredentialPrefix)) return this.#authenticateInstance(bearer);
    if (bearer.startsWith(buildCredentialPrefix)) return this.buildCredentials.principalOf(bearer);
    const hash = hashToken(bearer);
    const row = await this.#lookup(`token:${hash}`, async () => (await tokenByHash(this.#db, hash)).rows[0]);
    if (!row || !timingSafeEqual(Buffer.from(row.token_hash), Buffer.from(hash))) {
      throw new Unauthorized('the token is unknown');
    }
    // Only a holder of the token learns why it stopped working.
    if (row.user_disabled_at) throw new Unauthorized(`the user "${row.user_name}" is disabled`);
    if (row.revoked_at) throw new Unauthorized(`the token "${row.name}" was revoked at ${row.revoked_at}`);
    const now = this.#now();
    if (row.expires_at && Date.parse(row.expires_at) <= now) {
      throw new Unauthorized(`the token "${row.name}" expired at ${row.expires_at}`);
    }
    const kind = (row.kind ?? 'admin') as TokenKind;
    let role = row.role as Role;
    if (kind === 'personal') {
      if (!row.user_name || !row.user_role) throw new Unauthorized('the token belongs to no user');
      // A personal token acts with the user's role as it is now, not as it was when the token was made.
      role = row.user_role as Role;
    }
    await this.#touch(row.id, now);
    return {
      tokenId: row.id,
      name: row.name,
      role,
      kind,
      userId: kind === 'personal' ? row.user_id : null,
      userName: kind === 'personal' ? row.user_name : null,
      environment: row.environment,
      profile: row.profile,
    };
  }

  /** An instance credential: valid while neither it nor the agent token that enrolled it is revoked. */
  async #authenticateInstance(credential: string): Promise<Principal> {
    const hash = hashToken(credential);
    const row = await this.#lookup(`instance:${hash}`, () => identityByCredential(this.#db, hash));
    if (!row || !timingSafeEqual(Buffer.from(row.credential_hash), Buffer.from(hash))) {
      throw new Unauthorized('the instance credential is unknown');
    }
    if (row.revoked_at) {
      throw new Unauthorized(`the identity of instance "${row.instance_id}" was revoked at ${row.revoked_at}`);
    }
    if (row.token_name === null) throw new Unauthorized('the agent token that enrolled this instance is gone');
    if (row.token_revoked_at) {
      throw new Unauthorized(`the agent token "${row.token_name}" that enrolled this instance was revoked`);
    }
    const now = this.#now();
    if (row.token_expires_at && Date.parse(row.token_expires_at) <= now) {
      throw new Unauthorized(`the agent token "${row.token_name}" that enrolled this instance expired`);
    }
    const key = `instance:${row.instance_id}`;
    if (now - (this.#lastTouched.get(key) ?? 0) >= 60_000) {
      this.#lastTouched.set(key, now);
      await this.#touchInstance({ instanceId: row.instance_id, at: now });
    }
    return {
      tokenId: row.token_id,
      name: row.token_name,
      role: 'agent',
      kind: 'instance',
      userId: null,
      userName: null,
      environment: row.environment,
      profile: row.profile,
      instanceId: row.instance_id,
    };
  }

  /** Records last use at most once a minute per token, to keep reads cheap. */
  async #touch(id: string, now: number): Promise<void> {
    if (now - (this.#lastTouched.get(id) ?? 0) < 60_000) return;
    this.#lastTouched.set(id, now);
    await this.#writeLastUse((db) =>
      db
        .updateTable('api_tokens')
        .set({ last_used_at: new Date(now).toISOString() })
        .where('id', '=', id)
        .execute(),
    );
  }
}
