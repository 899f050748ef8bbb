import { type Static, Type } from 'typebox';

// Wire schemas of environments, desired-version lists, the tested gate, the agent API and instances.

export const environmentNamePattern = '^[a-z0-9][a-z0-9-]{0,62}$';
const EnvName = Type.String({ pattern: environmentNamePattern, description: 'Environment name' });
const Short = (description: string) => Type.String({ minLength: 1, maxLength: 1024, description });
/** `{ service: version }`. */
const VersionMap = Type.Record(Type.String(), Type.String(), { description: '`{ service: version }`' });

export const Environment = Type.Object({
  name: Type.String(),
  requiresTestedIn: Type.Union([Type.String(), Type.Null()], {
    description: 'Versions must be marked tested in this environment before they can be desired here',
  }),
  createdAt: Type.String(),
  revision: Type.Integer({ description: 'Current desired-list revision' }),
});
export type Environment = Static<typeof Environment>;

export const EnvironmentList = Type.Object({ environments: Type.Array(Environment) });
export type EnvironmentList = Static<typeof EnvironmentList>;

export const EnvironmentCreate = Type.Object(
  { name: EnvName, requiresTestedIn: Type.Optional(EnvName) },
  { additionalProperties: false },
);
export type EnvironmentCreate = Static<typeof EnvironmentCreate>;

export const EnvironmentPatch = Type.Object(
  { requiresTestedIn: Type.Union([EnvName, Type.Null()]) },
  { additionalProperties: false },
);
export type EnvironmentPatch = Static<typeof EnvironmentPatch>;

export const EnvironmentParams = Type.Object({ env: Type.String() });
export type EnvironmentParams = Static<typeof EnvironmentParams>;

export const DesiredRevision = Type.Object({
  environment: Type.String(),
  revision: Type.Integer(),
  versions: VersionMap,
  author: Type.String(),
  createdAt: Type.String(),
  comment: Type.Union([Type.String(), Type.Null()]),
});
export type DesiredRevision = Static<typeof DesiredRevision>;

export const DesiredQuery = Type.Object({ revision: Type.Optional(Type.Integer({ minimum: 0 })) });
export type DesiredQuery = Static<typeof DesiredQuery>;

export const DesiredPatch = Type.Object(
  {
    set: Type.Optional(Type.Record(Type.String({ minLength: 1, maxLength: 200 }), Short('version'))),
    remove: Type.Optional(Type.Array(Short('service'), { maxItems: 1000 })),
    comment: Type.Optional(Type.String({ maxLength: 1024 })),
    expectedRevision: Type.Optional(
      Type.Integer({ minimum: 0, description: 'Refuse with 409 unless this is still the current revision' }),
    ),
  },
  { additionalProperties: false },
);
export type DesiredPatch = Static<typeof DesiredPatch>;

export const DesiredHistoryQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  before: Type.Optional(Type.Integer({ minimum: 0, description: 'Only revisions older than this one' })),
});
export type DesiredHistoryQuery = Static<typeof DesiredHistoryQuery>;

export const DesiredHistory = Type.Object({ revisions: Type.Array(DesiredRevision) });
export type DesiredHistory = Static<typeof DesiredHistory>;

export const DesiredDiffQuery = Type.Object({
  from: Type.Integer({ minimum: 0 }),
  to: Type.Optional(Type.Integer({ minimum: 0, description: 'Default: the current revision' })),
});
export type DesiredDiffQuery = Static<typeof DesiredDiffQuery>;

const ServiceAt = Type.Object({ service: Type.String(), version: Type.String() });

export const DesiredDiff = Type.Object({
  from: Type.Integer(),
  to: Type.Integer(),
  added: Type.Array(ServiceAt),
  removed: Type.Array(ServiceAt),
  changed: Type.Array(Type.Object({ service: Type.String(), from: Type.String(), to: Type.String() })),
});
export type DesiredDiff = Static<typeof DesiredDiff>;

export const DesiredRollback = Type.Object(
  {
    revision: Type.Integer({ minimum: 0 }),
    comment: Type.Optional(Type.String({ maxLength: 1024 })),
    abortRollout: Type.Optional(
      Type.Boolean({
        description:
          "Abort the environment's active rollout in the same transaction; without it a rollback during a rollout is refused (rollout_active)",
      }),
    ),
  },
  { additionalProperties: false },
);
export type DesiredRollback = Static<typeof DesiredRollback>;

export const MarkTestedRequest = Type.Object(
  { revision: Type.Optional(Type.Integer({ minimum: 0, description: 'Default: the current revision' })) },
  { additionalProperties: false },
);
export type MarkTestedRequest = Static<typeof MarkTestedRequest>;

export const MarkTestedResponse = Type.Object({
  environment: Type.String(),
  revision: Type.Integer(),
  marked: Type.Array(ServiceAt, { description: 'Every service@version of the revision' }),
});
export type MarkTestedResponse = Static<typeof MarkTestedResponse>;

export const AgentDesiredQuery = Type.Object({
  wait: Type.Optional(
    Type.String({ pattern: '^\\d+(ms|s|m)$', description: 'Long poll: hold until a change or this long (max 120s)' }),
  ),
});
export type AgentDesiredQuery = Static<typeof AgentDesiredQuery>;

export const AgentDesiredService = Type.Object({
  service: Type.String(),
  version: Type.String(),
  digest: Type.String(),
  size: Type.Integer(),
  manifest: Type.Unknown(),
  signedManifest: Type.String(),
  signature: Type.String(),
  artifactUrl: Type.String(),
});
export type AgentDesiredService = Static<typeof AgentDesiredService>;

/** One service of a signed desired statement: what the agent may install, down to the artifact bytes. */
export const DesiredStatementService = Type.Object({
  service: Type.String(),
  version: Type.String(),
  /** `sha256:<hex>` of the artifact. */
  digest: Type.String(),
  size: Type.Integer(),
});
export type DesiredStatementService = Static<typeof DesiredStatementService>;

/** What the server signs for each desired answer; `statement` in AgentDesired is its canonical JSON. */
export const DesiredStatement = Type.Object({
  environment: Type.String(),
  profile: Type.Union([Type.String(), Type.Null()]),
  revision: Type.Integer(),
  /** Sorted by service name. */
  services: Type.Array(DesiredStatementService),
  issuedAt: Type.String(),
  expiresAt: Type.String(),
});
export type DesiredStatement = Static<typeof DesiredStatement>;

export const AgentDesired = Type.Object({
  environment: Type.String(),
  revision: Type.Integer(),
  services: Type.Array(AgentDesiredService),
  statement: Type.String({
    description: 'Canonical JSON of a DesiredStatement: the exact bytes `signature` covers',
  }),
  signature: Type.String({ description: "Base64 Ed25519 signature of `statement` by the server's signing key" }),
  keyId: Type.String({ description: 'SHA-256 (hex) of the raw public key that signed it' }),
});
export type AgentDesired = Static<typeof AgentDesired>;

export const InstanceServiceState = Type.Union([
  Type.Literal('running'),
  Type.Literal('updating'),
  Type.Literal('failed'),
  Type.Literal('stopped'),
]);
export type InstanceServiceState = Static<typeof InstanceServiceState>;

export const AgentServiceReport = Type.Object(
  {
    service: Short('service'),
    version: Type.Optional(Short('installed version')),
    targetVersion: Type.Optional(Short('version being installed')),
    state: Type.Optional(InstanceServiceState),
    updateError: Type.Optional(Short('last update error')),
    installedAt: Type.Optional(Type.String({ maxLength: 64 })),
    startedAt: Type.Optional(Type.String({ maxLength: 64 })),
    failureCount: Type.Optional(Type.Integer({ minimum: 0 })),
    lastExitCode: Type.Optional(Type.Integer()),
  },
  { additionalProperties: false },
);
export type AgentServiceReport = Static<typeof AgentServiceReport>;

export const AgentStateReport = Type.Object(
  {
    instanceId: Type.String({ minLength: 1, maxLength: 200 }),
    labels: Type.Optional(
      Type.Record(Type.String({ minLength: 1, maxLength: 200 }), Type.String({ maxLength: 1024 }), {
        maxProperties: 100,
      }),
    ),
    services: Type.Array(AgentServiceReport, { maxItems: 500 }),
  },
  { additionalProperties: false },
);
export type AgentStateReport = Static<typeof AgentStateReport>;

export const InstanceService = Type.Object({
  service: Type.String(),
  version: Type.Union([Type.String(), Type.Null()]),
  targetVersion: Type.Union([Type.String(), Type.Null()]),
  state: Type.Union([Type.String(), Type.Null()]),
  updateError: Type.Union([Type.String(), Type.Null()]),
  installedAt: Type.Union([Type.String(), Type.Null()]),
  startedAt: Type.Union([Type.String(), Type.Null()]),
  failureCount: Type.Integer(),
  lastExitCode: Type.Union([Type.Integer(), Type.Null()]),
  updatedAt: Type.String({
    description:
      "When this service's reported state last changed; the instance's lastSeenAt says when it last reported",
  }),
});
export type InstanceService = Static<typeof InstanceService>;

export const Instance = Type.Object({
  instanceId: Type.String(),
  environment: Type.String(),
  profile: Type.Union([Type.String(), Type.Null()]),
  labels: Type.Record(Type.String(), Type.String()),
  firstSeenAt: Type.String(),
  lastSeenAt: Type.String(),
  stale: Type.Boolean({ description: 'Not seen for longer than the instance expiry' }),
  services: Type.Array(InstanceService),
});
export type Instance = Static<typeof Instance>;

export const InstanceQuery = Type.Object({
  environment: Type.Optional(Type.String()),
  service: Type.Optional(Type.String()),
  label: Type.Optional(Type.String({ pattern: '^[^=]+=.*$', description: '`key=value`' })),
  stale: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  cursor: Type.Optional(Type.String()),
});
export type InstanceQuery = Static<typeof InstanceQuery>;

export const InstanceList = Type.Object({
  instances: Type.Array(Instance),
  nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `cursor` for the next page' }),
});
export type InstanceList = Static<typeof InstanceList>;
