// Wire shapes of federation: the provider's consumer accounts and the routes a consumer calls.
import { type Static, Type } from 'typebox';

export const consumerNamePattern = '^[a-z0-9][a-z0-9-]{0,62}$';

export const Consumer = Type.Object({
  name: Type.String(),
  profile: Type.String(),
  description: Type.String(),
  /** Only versions this consumer (the test installation) reported tested are offered. */
  testConsumer: Type.Union([Type.String(), Type.Null()]),
  createdBy: Type.String(),
  createdAt: Type.String(),
  lastSeenAt: Type.Union([Type.String(), Type.Null()]),
  revokedAt: Type.Union([Type.String(), Type.Null()]),
  /** The URL prefixes its settings repositories must start with to be built here. */
  settingsUrls: Type.Array(Type.String()),
});
export type Consumer = Static<typeof Consumer>;

/**
 * `https://host[:port]/path/`, `http://…/` or `git://…/`: a host and a directory of git servers,
 * ending at a `/` so that `…/acme/` does not admit `…/acme-internal/`; never a local path.
 */
export const SettingsUrlPrefix = Type.String({
  pattern: '^(https?|git)://[^/@\\s]+/([^\\s]*/)?$',
  maxLength: 2000,
});
export const ConsumerSettingsUrls = Type.Object(
  { settingsUrls: Type.Array(SettingsUrlPrefix, { maxItems: 50 }) },
  { additionalProperties: false },
);
export type ConsumerSettingsUrls = Static<typeof ConsumerSettingsUrls>;

export const ConsumerCreate = Type.Object(
  {
    name: Type.String({ pattern: consumerNamePattern }),
    profile: Type.String({ minLength: 1, maxLength: 200 }),
    description: Type.Optional(Type.String({ maxLength: 1000 })),
    testConsumer: Type.Optional(Type.String({ pattern: consumerNamePattern })),
    settingsUrls: Type.Optional(ConsumerSettingsUrls.properties.settingsUrls),
  },
  { additionalProperties: false },
);
export type ConsumerCreate = Static<typeof ConsumerCreate>;

export const ConsumerCreated = Type.Object({ consumer: Consumer, token: Type.String() });
export const ConsumerList = Type.Object({ consumers: Type.Array(Consumer) });

export const FeedVersion = Type.Object({
  service: Type.String(),
  version: Type.String(),
  digest: Type.String(),
  size: Type.Number(),
  createdAt: Type.String(),
});
export type FeedVersion = Static<typeof FeedVersion>;

export const Feed = Type.Object({
  consumer: Type.String(),
  profile: Type.String(),
  /** Changes whenever the listing changes; send it back as `?since=` to long-poll. */
  cursor: Type.String(),
  signingKey: Type.Object({ algorithm: Type.String(), keyId: Type.String(), publicKeyPem: Type.String() }),
  services: Type.Array(Type.Object({ name: Type.String(), description: Type.String() })),
  /** Per service, newest first, at most `feedVersionsPerService`. */
  versions: Type.Array(FeedVersion),
});
export type Feed = Static<typeof Feed>;

export const FeedQuery = Type.Object({
  since: Type.Optional(Type.String({ maxLength: 100 })),
  wait: Type.Optional(Type.String({ maxLength: 10 })),
});

export const FederatedVersion = Type.Object({
  service: Type.String(),
  version: Type.String(),
  digest: Type.String(),
  size: Type.Number(),
  notes: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
  signedManifest: Type.String(),
  signature: Type.String(),
  keyId: Type.String(),
});
export type FederatedVersion = Static<typeof FederatedVersion>;

const ReportInstance = Type.Object({
  environment: Type.String({ maxLength: 200 }),
  instanceId: Type.String({ maxLength: 200 }),
  service: Type.String({ maxLength: 200 }),
  version: Type.Union([Type.Null(), Type.String({ maxLength: 200 })]),
  state: Type.String({ maxLength: 100 }),
  reportedAt: Type.Union([Type.Null(), Type.String({ maxLength: 40 })]),
});
const ReportFault = Type.Object({
  id: Type.String({ maxLength: 200 }),
  environment: Type.String({ maxLength: 200 }),
  instanceId: Type.String({ maxLength: 200 }),
  service: Type.String({ maxLength: 200 }),
  version: Type.Union([Type.Null(), Type.String({ maxLength: 200 })]),
  reason: Type.String({ maxLength: 2000 }),
  at: Type.String({ maxLength: 40 }),
});

/** What a consumer reports about the provider's services: bounded in count and size. */
export const ConsumerReport = Type.Object(
  {
    instances: Type.Array(ReportInstance, { maxItems: 5000 }),
    faults: Type.Array(ReportFault, { maxItems: 500 }),
    /** Versions marked tested on the consumer (any environment). */
    tested: Type.Optional(
      Type.Array(Type.Object({ service: Type.String({ maxLength: 200 }), version: Type.String({ maxLength: 200 }) }), {
        maxItems: 10000,
      }),
    ),
  },
  { additionalProperties: false },
);
export type ConsumerReport = Static<typeof ConsumerReport>;

export const ConsumerFleet = Type.Object({
  consumer: Type.String(),
  receivedAt: Type.Union([Type.String(), Type.Null()]),
  instances: Type.Array(ReportInstance),
  faults: Type.Array(ReportFault),
  tested: Type.Optional(Type.Array(Type.Object({ service: Type.String(), version: Type.String() }))),
});
export type ConsumerFleet = Static<typeof ConsumerFleet>;
