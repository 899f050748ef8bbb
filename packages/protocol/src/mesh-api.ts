import { type Static, Type } from 'typebox';

// The mesh in the fleet: what agents send the server (certificate requests, per-pair summaries) and what
// the server answers (peers, the environment's mesh view, a pair's series). `MeshPairSummary` mirrors
// `PairSummary` in packages/agent/src/mesh/contracts.ts.

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const Name = (description: string) => Type.String({ minLength: 1, maxLength: 200, description });
const Seconds = (description: string) => Type.Number({ minimum: 0, maximum: 3600, description });

export const meshLimits = {
  /** Summaries in one report: a minute of 4 phases to 1,000 peers fits. */
  summaries: 5000,
  bodyBytes: 2 * 1024 * 1024,
  /** Peers one answer lists. */
  peers: 2000,
  /** Pairs one mesh view lists, slowest first. */
  pairs: 10_000,
} as const;

export const meshPhases = ['dns', 'connect', 'tls', 'request'] as const;
export type MeshPhase = (typeof meshPhases)[number];
export const meshNodeStates = ['alive', 'stale', 'dead'] as const;
export type MeshNodeState = (typeof meshNodeStates)[number];

export const MeshEnvironmentSettings = Type.Object(
  {
    enabled: Type.Boolean({ description: "whether the environment's agents run the mesh" }),
    maxPeersPerRound: Type.Optional(
      Nullable(Type.Integer({ minimum: 1, maximum: 1000, description: 'peers a node probes per round (null: all)' })),
    ),
  },
  { additionalProperties: false },
);
export type MeshEnvironmentSettings = Static<typeof MeshEnvironmentSettings>;

export const MeshEnvironment = Type.Object({
  environment: Type.String(),
  enabled: Type.Boolean(),
  maxPeersPerRound: Nullable(Type.Integer()),
  updatedAt: Nullable(Type.String({ format: 'date-time' })),
  updatedBy: Nullable(Type.String()),
});
export type MeshEnvironment = Static<typeof MeshEnvironment>;

export const MeshEnvironmentList = Type.Object({ environments: Type.Array(MeshEnvironment) });
export type MeshEnvironmentList = Static<typeof MeshEnvironmentList>;

/** `POST /api/v1/agent/mesh/certificate`: the agent's key and where its peers dial it. */
export const MeshCertificateRequest = Type.Object(
  {
    publicKey: Type.String({ minLength: 1, maxLength: 1024, description: 'ECDSA P-256 public key, SPKI PEM' }),
    address: Type.String({
      minLength: 3,
      maxLength: 300,
      pattern: '^[^\\s/]+:[0-9]{1,5}$',
      description: 'host:port peers dial for the mesh protocol',
    }),
  },
  { additionalProperties: false },
);
export type MeshCertificateRequest = Static<typeof MeshCertificateRequest>;

export const MeshCertificate = Type.Object({
  certificate: Type.String({ description: 'PEM; its URI SAN is flotilla://<environment>/<instance>' }),
  caCertificate: Type.String({ description: 'PEM of the mesh CA that peers verify against' }),
  uri: Type.String(),
  expiresAt: Type.String({ format: 'date-time' }),
  renewAfter: Type.String({ format: 'date-time', description: 'when to ask for the next one (before expiry)' }),
  maxPeersPerRound: Nullable(Type.Integer()),
});
export type MeshCertificate = Static<typeof MeshCertificate>;

export const MeshPeer = Type.Object({
  instance: Type.String(),
  address: Type.String(),
  state: Type.Enum([...meshNodeStates]),
});
export type MeshPeer = Static<typeof MeshPeer>;

export const MeshPeers = Type.Object({
  enabled: Type.Boolean({ description: 'false: the mesh is off in this environment; run no mesh node' }),
  maxPeersPerRound: Nullable(Type.Integer()),
  peers: Type.Array(MeshPeer),
  truncated: Type.Boolean(),
});
export type MeshPeers = Static<typeof MeshPeers>;

export const MeshPairSummary = Type.Object(
  {
    from: Name('the measuring instance: the credential’s own'),
    to: Name('the measured peer'),
    phase: Type.Enum([...meshPhases]),
    minute: Type.Integer({ minimum: 0, multipleOf: 60_000, description: 'start of the minute, ms since the epoch' }),
    count: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
    failed: Type.Integer({ minimum: 0, maximum: 1_000_000 }),
    min: Type.Optional(Seconds('seconds; absent when every probe failed')),
    p50: Type.Optional(Seconds('seconds')),
    p99: Type.Optional(Seconds('seconds')),
    max: Type.Optional(Seconds('seconds')),
    jitter: Type.Optional(Seconds('mean absolute difference of consecutive round trips, seconds')),
  },
  { additionalProperties: false },
);
export type MeshPairSummary = Static<typeof MeshPairSummary>;

export const MeshLoopLag = Type.Object(
  { p50: Seconds('seconds'), p99: Seconds('seconds'), max: Seconds('seconds') },
  { additionalProperties: false, description: "the node's own event-loop delay over the report's span" },
);
export type MeshLoopLag = Static<typeof MeshLoopLag>;

/** `POST /api/v1/agent/mesh/summaries`. */
export const MeshSummaryReport = Type.Object(
  {
    summaries: Type.Array(MeshPairSummary, { maxItems: meshLimits.summaries }),
    eventLoopLag: Type.Optional(MeshLoopLag),
  },
  { additionalProperties: false },
);
export type MeshSummaryReport = Static<typeof MeshSummaryReport>;

export const MeshSummaryAnswer = Type.Object({
  stored: Type.Integer(),
  skipped: Type.Integer({
    description:
      'summaries not stored: older than the retention, or about a peer that is no mesh node of the environment',
  }),
});
export type MeshSummaryAnswer = Static<typeof MeshSummaryAnswer>;

export const MeshNode = Type.Object({
  instance: Type.String(),
  address: Type.String(),
  state: Type.Enum([...meshNodeStates], { description: 'alive: reported recently; stale: silent; dead: long silent' }),
  lastSeenAt: Type.String({ format: 'date-time' }),
  certificateExpiresAt: Nullable(Type.String({ format: 'date-time' })),
  eventLoopLag: Nullable(MeshLoopLag),
  partition: Type.Integer({ description: 'index into `partitions`; -1 when the node is dead' }),
  flagged: Nullable(Type.String({ description: 'why the node looks unreachable from most of its peers' })),
});
export type MeshNode = Static<typeof MeshNode>;

export const MeshPair = Type.Object({
  from: Type.String(),
  to: Type.String(),
  count: Type.Integer(),
  failed: Type.Integer(),
  loss: Type.Number({ description: 'failed / count' }),
  p50: Nullable(Type.Number({ description: 'seconds; mean of the minutes’ p50 weighted by successful probes' })),
  p99: Nullable(Type.Number({ description: 'seconds; the highest minute p99 (an upper bound)' })),
  min: Nullable(Type.Number()),
  max: Nullable(Type.Number()),
});
export type MeshPair = Static<typeof MeshPair>;

export const MeshView = Type.Object({
  environment: Type.String(),
  enabled: Type.Boolean(),
  phase: Type.Enum([...meshPhases]),
  from: Type.String({ format: 'date-time' }),
  to: Type.String({ format: 'date-time' }),
  nodes: Type.Array(MeshNode),
  pairs: Type.Array(MeshPair, { description: 'slowest p50 first' }),
  pairsTruncated: Type.Boolean(),
  partitions: Type.Array(Type.Array(Type.String()), {
    description: 'connected components of live nodes over pairs with successful probes recently; largest first',
  }),
  flagged: Type.Array(Type.String()),
});
export type MeshView = Static<typeof MeshView>;

export const MeshPairPoint = Type.Object({
  minute: Type.String({ format: 'date-time' }),
  phase: Type.Enum([...meshPhases]),
  count: Type.Integer(),
  failed: Type.Integer(),
  min: Nullable(Type.Number()),
  p50: Nullable(Type.Number()),
  p99: Nullable(Type.Number()),
  max: Nullable(Type.Number()),
  jitter: Nullable(Type.Number()),
});
export type MeshPairPoint = Static<typeof MeshPairPoint>;

export const MeshPairSeries = Type.Object({
  environment: Type.String(),
  from: Type.String(),
  to: Type.String(),
  points: Type.Array(MeshPairPoint, { description: 'oldest first' }),
});
export type MeshPairSeries = Static<typeof MeshPairSeries>;
