import { randomUUID } from 'node:crypto';
import type {
  AuditPage,
  AuditQuery,
  CreatedToken,
  CreateTokenBody,
  CreateUserBody,
  LoginBody,
  TokenInfo,
  UpdateUserBody,
  UserInfo,
  WhoAmI,
} from '@flotilla/protocol';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { recordAudit } from '../audit/audit-log.ts';
import { findAuditEntry, readAudit } from '../audit/store.ts';
import { generateToken, type Principal, type Role, requireRole, tokenRow } from '../auth/tokens.ts';
import type { Tables } from '../db/tables.ts';
import { Conflict, DomainError, Forbidden, Invalid, NotFound, Unauthorized } from '../errors.ts';
import { isRefusal, LoginThrottle } from './login-throttle.ts';
import { burnPasswordCheck, checkPasswordRules, hashPassword, verifyPassword } from './password.ts';
import * as store from './store.ts';

const roles = new Set(['admin', 'developer', 'viewer']);
const namePattern = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
const dayMs = 86_400_000;

export class TooManyAttempts extends DomainError {
  constructor(message: string, retryAfterSeconds: number) {
    super('rate_limited', message, { 'retry-after': String(retryAfterSeconds) });
  }
}

export interface AccountsDeps {
  db: Kysely<Tables>;
  logger?: Logger;
  /** Login limits; one per server, shared by every way in. */
  throttle?: LoginThrottle;
  now?: () => number;
}

function publicToken(t: store.TokenRow): TokenInfo {
  const { userId: _u, createdBy: _c, ...info } = t;
  return info;
}

/** What an audit entry shows of a token: never the token or its hash. */
function tokenAudit(t: TokenInfo) {
  return {
    name: t.name,
    kind: t.kind,
    user: t.user,
    environment: t.environment,
    profile: t.profile,
    expiresAt: t.expiresAt,
    revokedAt: t.revokedAt,
    maxInstances: t.maxInstances ?? null,
  };
}

export function createAccountsService(deps: AccountsDeps) {
  const { db } = deps;
  const now = deps.now ?? Date.now;
  const iso = () => new Date(now()).toISOString();
  const throttle = deps.throttle ?? new LoginThrottle({ now });

  function checkUser(input: { name?: string; role?: string; password?: string }): void {
    if (input.name !== undefined && !namePattern.test(input.name)) {
      throw new Invalid('a user name is 1-64 letters, digits, ".", "_", "@" or "-", starting with a letter or digit');
    }
    if (input.role !== undefined && !roles.has(input.role)) {
      throw new Invalid(`role must be admin, developer or viewer, not "${input.role}"`);
    }
    const problem = input.password !== undefined ? checkPasswordRules(input.password) : null;
    if (problem) throw new Invalid(problem);
  }

  async function createUser(actor: Principal, input: CreateUserBody): Promise<UserInfo> {
    checkUser(input);
    const user: store.UserRow = {
      id: randomUUID(),
      name: input.name,
      role: input.role,
      passwordHash: await hashPassword(input.password),
      createdAt: iso(),
      disabledAt: null,
    };
    await db.transaction().execute(async (tx) => {
      await store.insertUser(tx, user);
      await recordAudit(tx, {
        actor,
        action: 'user.create',
        target: `user:${user.name}`,
        after: { name: user.name, role: user.role },
      });
    });
    return store.publicUser(user);
  }

  /** The first user, made with the setup code: refused once any user exists, checked in the same transaction. */
  async function createFirstAdmin(input: { name: string; password: string }): Promise<UserInfo> {
    checkUser(input);
    const user: store.UserRow = {
      id: randomUUID(),
      name: input.name,
      role: 'admin',
      passwordHash: await hashPassword(input.password),
      createdAt: iso(),
      disabledAt: null,
    };
    const actor: Principal = { tokenId: '', name: 'setup code', role: 'admin', userName: user.name };
    await db.transaction().execute(async (tx) => {
      if (await store.anyUser(tx)) throw new Conflict('a user exists already: sign in instead');
      await store.insertUser(tx, user);
      await recordAudit(tx, {
        actor,
        action: 'user.create',
        target: `user:${user.name}`,
        after: { name: user.name, role: user.role, via: 'setup code' },
      });
    });
    return store.publicUser(user);
  }

  async function updateUser(actor: Principal, name: string, patch: UpdateUserBody): Promise<UserInfo> {
    if (patch.role === undefined && patch.disabled === undefined && patch.password === undefined) {
      throw new Invalid('give at least one of role, disabled, password');
    }
    checkUser({ role: patch.role, password: patch.password });
    const user = await store.findUser(db, name);
    if (!user) throw new NotFound(`no user named "${name}"`);
    if (actor.userId === user.id && (patch.disabled === true || (patch.role && patch.role !== 'admin'))) {
      throw new Invalid('you cannot disable or demote yourself; another admin can');
    }
    const at = iso();
    const disabledAt = patch.disabled === undefined ? user.disabledAt : patch.disabled ? (user.disabledAt ?? at) : null;
    const passwordHash = patch.password !== undefined ? await hashPassword(patch.password) : undefined;
    const updated: store.UserRow = { ...user, role: patch.role ?? user.role, disabledAt };
    await db.transaction().execute(async (tx) => {
      await store.updateUser(tx, user.id, { role: patch.role, passwordHash, disabledAt });
      const revoked = disabledAt && !user.disabledAt ? await store.revokeUserTokens(tx, user.id, at) : [];
      await recordAudit(tx, {
        actor,
        action: 'user.update',
        target: `user:${user.name}`,
        before: { role: user.role, disabled: user.disabledAt !== null },
        after: {
          role: updated.role,
          disabled: updated.disabledAt !== null,
          ...(passwordHash ? { passwordChanged: true } : {}),
          ...(revoked.length > 0 ? { revokedTokens: revoked } : {}),
        },
      });
    });
    return store.publicUser(updated);
  }

  async function insertToken(
    actor: Principal,
    action: string,
    name: string,
    role: Role,
    extra: Parameters<typeof tokenRow>[3],
  ): Promise<CreatedToken> {
    const token = generateToken();
    const row = tokenRow(name, role, token, extra);
    row.created_at = iso();
    const info = await db.transaction().execute(async (tx) => {
      await tx.insertInto('api_tokens').values(row).execute();
      const stored = await store.findToken(tx, row.id);
      if (!stored) throw new Error('token vanished after insert');
      await recordAudit(tx, { actor, action, target: `token:${row.id}`, after: tokenAudit(stored) });
      return publicToken(stored);
    });
    return { token, info };
  }

  const expiry = (days?: number) => (days ? new Date(now() + days * dayMs).toISOString() : null);

  async function login(body: LoginBody, address: string): Promise<CreatedToken> {
    // The attempt counts before the slow hash, so parallel guesses cannot all pass the check first.
    const attempt = throttle.reserve(body.name, address);
    if (isRefusal(attempt)) {
      throw new TooManyAttempts(`${attempt.message}; retry in ${attempt.retryAfter} s`, attempt.retryAfter);
    }
    let user: store.UserRow | null;
    let ok = false;
    try {
      user = await store.findUser(db, body.name);
      // An unknown name costs the same check, in the same queue, as a wrong password.
      if (user) ok = await verifyPassword(body.password, user.passwordHash, attempt.known);
      else await burnPasswordCheck(body.password);
    } catch (err) {
      attempt.released();
      throw err;
    }
    if (!user || !ok || user.disabledAt) {
      const failures = attempt.failed();
      deps.logger?.warn({ user: body.name, failures }, 'login failed');
      throw new Unauthorized('wrong user name or password, or the user is disabled');
    }
    attempt.succeeded();
    const actor: Principal = {
      tokenId: '',
      name: 'login',
      role: user.role,
      kind: 'personal',
      userId: user.id,
      userName: user.name,
    };
    return insertToken(actor, 'user.login', body.tokenName ?? 'login', user.role, {
      kind: 'personal',
      userId: user.id,
      expiresAt: expiry(body.expiresInDays ?? 30),
    });
  }

  async function createToken(actor: Principal, body: CreateTokenBody): Promise<CreatedToken> {
    const expiresAt = expiry(body.expiresInDays);
    if (body.kind === 'personal') {
      if (!actor.userId)
        throw new Invalid('personal tokens belong to a user; this credential has no user (log in first)');
      if (body.environment || body.profile || body.maxInstances) {
        throw new Invalid('environment, profile and maxInstances are for agent tokens');
      }
      return insertToken(actor, 'token.create', body.name, actor.role, {
        kind: 'personal',
        userId: actor.userId,
        expiresAt,
      });
    }
    requireRole(actor, 'developer');
    if (!body.environment) throw new Invalid('an agent token needs an environment');
    await requireAgentBinding(body.environment, body.profile);
    return insertToken(actor, 'token.create', body.name, 'agent', {
      kind: 'agent',
      environment: body.environment,
      profile: body.profile ?? null,
      expiresAt,
      createdBy: actor.userId ?? null,
      maxInstances: body.maxInstances ?? null,
    });
  }

  /** An agent token names an environment (and profile) that exist, so it cannot fail only later. */
  async function requireAgentBinding(environment: string, profile: string | undefined): Promise<void> {
    const env = await db.selectFrom('environments').select('name').where('name', '=', environment).executeTakeFirst();
    if (!env) throw new NotFound(`environment "${environment}" not found`);
    if (profile === undefined) return;
    const found = await db.selectFrom('profiles').select('name').where('name', '=', profile).executeTakeFirst();
    if (!found) throw new NotFound(`profile "${profile}" not found`);
  }

  /** An admin token without a user: made offline against the store, when the first-start token is lost. */
  async function createAdminToken(actor: Principal, name: string, expiresInDays?: number): Promise<CreatedToken> {
    if (actor.kind !== 'local') {
      throw new Forbidden('admin tokens are made against the store (--data-dir or --database)');
    }
    return insertToken(actor, 'token.create', name, 'admin', { kind: 'admin', expiresAt: expiry(expiresInDays) });
  }

  async function listTokens(actor: Principal): Promise<TokenInfo[]> {
    if (actor.role === 'admin') return (await store.listTokens(db)).map(publicToken);
    if (!actor.userId) return [];
    return (await store.listTokens(db, actor.userId)).map(publicToken);
  }

  async function revokeToken(actor: Principal, id: string): Promise<TokenInfo> {
    const token = await store.findToken(db, id);
    if (!token) throw new NotFound(`no token with id "${id}"`);
    const owner = actor.userId && (token.userId === actor.userId || token.createdBy === actor.userId);
    if (actor.role !== 'admin' && !owner) throw new Forbidden('only an admin or the owner can revoke this token');
    if (token.revokedAt) return publicToken(token);
    const at = iso();
    await db.transaction().execute(async (tx) => {
      await store.revokeToken(tx, id, at);
      await recordAudit(tx, {
        actor,
        action: 'token.revoke',
        target: `token:${id}`,
        before: tokenAudit(token),
        after: tokenAudit({ ...token, revokedAt: at }),
      });
    });
    return publicToken({ ...token, revokedAt: at });
  }

  async function audit(q: AuditQuery): Promise<AuditPage> {
    const limit = q.limit ?? 50;
    let before: { at: string; id: string } | undefined;
    if (q.before) {
      const found = await findAuditEntry(db, q.before);
      if (!found) throw new Invalid(`"before" names no audit entry: "${q.before}"`);
      before = found;
    }
    const normal = (t?: string) => (t ? new Date(t).toISOString() : undefined);
    const entries = await readAudit(db, {
      from: normal(q.from),
      to: normal(q.to),
      actor: q.actor,
      action: q.action,
      limit,
      before,
    });
    return { entries, next: entries.length === limit ? (entries.at(-1)?.id ?? null) : null };
  }

  function whoami(p: Principal): WhoAmI {
    return {
      tokenId: p.tokenId,
      name: p.name,
      user: p.userName ?? null,
      role: p.role,
      kind: p.kind ?? 'admin',
      environment: p.environment ?? null,
      profile: p.profile ?? null,
    };
  }

  return {
    createUser,
    createFirstAdmin,
    createAdminToken,
    listUsers: async () => (await store.listUsers(db)).map(store.publicUser),
    updateUser,
    login,
    createToken,
    listTokens,
    revokeToken,
    audit,
    whoami,
  };
}

export type AccountsService = ReturnType<typeof createAccountsService>;
