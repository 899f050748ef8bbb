import { type Static, Type } from 'typebox';

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

export const AgentEnrollBody = Type.Object(
  {
    instanceId: Type.String({ minLength: 1, maxLength: 200 }),
    publicKey: Type.Optional(
      Type.String({ minLength: 1, maxLength: 1024, description: "The agent's Ed25519 public key, SPKI PEM" }),
    ),
  },
  { additionalProperties: false },
);
export type AgentEnrollBody = Static<typeof AgentEnrollBody>;

export const AgentEnrolled = Type.Object({
  instanceId: Type.String(),
  environment: Type.String(),
  profile: Nullable(Type.String()),
  credential: Type.String({ description: 'The instance credential; shown only in this answer, stored only as a hash' }),
  enrolledAt: Type.String(),
});
export type AgentEnrolled = Static<typeof AgentEnrolled>;

export const AgentIdentity = Type.Object({
  instanceId: Type.String(),
  environment: Type.String(),
  profile: Nullable(Type.String()),
  tokenId: Type.String({ description: 'The agent token that enrolled it' }),
  tokenName: Nullable(Type.String()),
  publicKey: Nullable(Type.String()),
  enrolledAt: Type.String(),
  lastUsedAt: Nullable(Type.String()),
  revokedAt: Nullable(Type.String()),
});
export type AgentIdentity = Static<typeof AgentIdentity>;

export const IdentityList = Type.Object({ identities: Type.Array(AgentIdentity) });
export type IdentityList = Static<typeof IdentityList>;

export const IdentityQuery = Type.Object({
  environment: Type.Optional(Type.String()),
  revoked: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])),
});
export type IdentityQuery = Static<typeof IdentityQuery>;

export const InstanceIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) });
export type InstanceIdParams = Static<typeof InstanceIdParams>;
