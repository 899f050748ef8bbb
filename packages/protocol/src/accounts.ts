// Wire schemas of the accounts feature: users, API tokens, login, audit log.
import { type Static, Type } from 'typebox';

export const UserRole = Type.Union([Type.Literal('admin'), Type.Literal('developer'), Type.Literal('viewer')], {
  description: '`admin`: everything; `developer`: services, versions, desired versions, rollouts; `viewer`: read only',
});
export type UserRole = Static<typeof UserRole>;

const UserName = Type.String({
  pattern: '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$',
  description: 'Letters, digits, `.`, `_`, `@`, `-`; up to 64 characters',
});
const Password = Type.String({ minLength: 12, maxLength: 1024, description: 'At least 12 characters' });

export const UserInfo = Type.Object({
  id: Type.String(),
  name: Type.String(),
  role: UserRole,
  createdAt: Type.String(),
  disabled: Type.Boolean(),
  disabledAt: Type.Union([Type.String(), Type.Null()]),
});
export type UserInfo = Static<typeof UserInfo>;

export const UserList = Type.Object({ users: Type.Array(UserInfo) });
export type UserList = Static<typeof UserList>;

export const CreateUserBody = Type.Object({ name: UserName, role: UserRole, password: Password });
export type CreateUserBody = Static<typeof CreateUserBody>;

export const UpdateUserBody = Type.Object({
  role: Type.Optional(UserRole),
  disabled: Type.Optional(Type.Boolean({ description: 'Disabling also revokes the personal tokens' })),
  password: Type.Optional(Password),
});
export type UpdateUserBody = Static<typeof UpdateUserBody>;

export const UserNameParams = Type.Object({ name: Type.String() });
export type UserNameParams = Static<typeof UserNameParams>;

export const TokenKind = Type.Union([Type.Literal('admin'), Type.Literal('personal'), Type.Literal('agent')]);
export type TokenKind = Static<typeof TokenKind>;

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

export const TokenInfo = Type.Object({
  id: Type.String(),
  name: Type.String(),
  kind: TokenKind,
  role: Type.String({ description: "The role it acts with; for personal tokens, the user's current role" }),
  user: Nullable(Type.String({ description: 'The user a personal token belongs to' })),
  environment: Nullable(Type.String()),
  profile: Nullable(Type.String()),
  createdAt: Type.String(),
  lastUsedAt: Nullable(Type.String()),
  expiresAt: Nullable(Type.String()),
  revokedAt: Nullable(Type.String()),
  maxInstances: Type.Optional(
    Type.Union([Type.Integer(), Type.Null()], { description: 'Agent tokens: how many instances it may enrol' }),
  ),
});
export type TokenInfo = Static<typeof TokenInfo>;

export const TokenList = Type.Object({ tokens: Type.Array(TokenInfo) });
export type TokenList = Static<typeof TokenList>;

const TokenName = Type.String({ minLength: 1, maxLength: 100 });

export const CreateTokenBody = Type.Object({
  kind: Type.Union([Type.Literal('personal'), Type.Literal('agent')]),
  name: TokenName,
  environment: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'Required for agent tokens' })),
  profile: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  expiresInDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650 })),
  maxInstances: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'Agent tokens: how many instances it may enrol' }),
  ),
});
export type CreateTokenBody = Static<typeof CreateTokenBody>;

export const CreatedToken = Type.Object({
  token: Type.String({ description: 'Shown only in this answer; stored only as a hash' }),
  info: TokenInfo,
});
export type CreatedToken = Static<typeof CreatedToken>;

export const TokenIdParams = Type.Object({ id: Type.String() });
export type TokenIdParams = Static<typeof TokenIdParams>;

export const LoginBody = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 64 }),
  password: Type.String({ minLength: 1, maxLength: 1024 }),
  tokenName: Type.Optional(TokenName),
  expiresInDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 365, default: 30 })),
});
export type LoginBody = Static<typeof LoginBody>;

export const WhoAmI = Type.Object({
  tokenId: Type.String(),
  name: Type.String({ description: 'The token name' }),
  user: Nullable(Type.String()),
  role: Type.String(),
  kind: Type.String(),
  environment: Nullable(Type.String()),
  profile: Nullable(Type.String()),
});
export type WhoAmI = Static<typeof WhoAmI>;

export const AuditQuery = Type.Object({
  from: Type.Optional(Type.String({ format: 'date-time', description: 'Entries at or after, RFC 3339' })),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'Entries before, RFC 3339' })),
  actor: Type.Optional(Type.String({ description: 'A user name, or `token:<name>` for tokens without a user' })),
  action: Type.Optional(Type.String({ description: 'e.g. `user.create`, `token.revoke`' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  before: Type.Optional(Type.String({ description: '`next` of the previous page: entries older than that one' })),
});
export type AuditQuery = Static<typeof AuditQuery>;

export const AuditRecord = Type.Object({
  id: Type.String(),
  at: Type.String(),
  actor: Type.String(),
  action: Type.String(),
  target: Type.String(),
  before: Type.Unknown(),
  after: Type.Unknown(),
});
export type AuditRecord = Static<typeof AuditRecord>;

export const AuditPage = Type.Object({
  entries: Type.Array(AuditRecord),
  next: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `before` for the next (older) page' }),
});
export type AuditPage = Static<typeof AuditPage>;
