// Wire schemas of the catalog feature: services, profiles, versions and the install manifest.
import { type Static, Type } from 'typebox';

export const serviceNamePattern = '^[a-z0-9][a-z0-9-]{0,62}$';

export const ServiceName = Type.String({ pattern: serviceNamePattern, description: 'Lower-case letters, digits, `-`' });

export const Service = Type.Object({
  name: Type.String(),
  description: Type.String(),
  maxHistorySize: Type.Integer({ description: 'Versions kept; older ones are deleted unless pinned' }),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});
export type Service = Static<typeof Service>;

export const ServiceCreate = Type.Object(
  { name: ServiceName, description: Type.Optional(Type.String({ maxLength: 2000 })) },
  { additionalProperties: false },
);
export type ServiceCreate = Static<typeof ServiceCreate>;

export const ServicePatch = Type.Object(
  {
    description: Type.Optional(Type.String({ maxLength: 2000 })),
    maxHistorySize: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
  },
  { additionalProperties: false },
);
export type ServicePatch = Static<typeof ServicePatch>;

export const ServiceList = Type.Object({ services: Type.Array(Service) });
export type ServiceList = Static<typeof ServiceList>;

export const Profile = Type.Object({
  name: Type.String(),
  services: Type.Array(Type.String()),
  updatedAt: Type.String(),
});
export type Profile = Static<typeof Profile>;

export const ProfilePut = Type.Object(
  { services: Type.Array(ServiceName, { maxItems: 1000 }) },
  { additionalProperties: false },
);
export type ProfilePut = Static<typeof ProfilePut>;

export const ProfileList = Type.Object({ profiles: Type.Array(Profile) });
export type ProfileList = Static<typeof ProfileList>;

// Strings in the manifest may hold the macros %%version%% and %%role%%, expanded by the agent.
const Env = Type.Record(Type.String(), Type.String());

export const ManifestCommand = Type.Object(
  {
    command: Type.String({ minLength: 1 }),
    args: Type.Optional(Type.Array(Type.String())),
    env: Type.Optional(Env),
    timeoutSec: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false },
);
export type ManifestCommand = Static<typeof ManifestCommand>;

export const ManifestRun = Type.Object(
  {
    command: Type.String({ minLength: 1 }),
    args: Type.Optional(Type.Array(Type.String())),
    env: Type.Optional(Env),
    workingDir: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

export const ManifestLogs = Type.Object(
  {
    maxFileSizeMB: Type.Optional(Type.Integer({ minimum: 1, description: 'Size of each local log file (default 10)' })),
    maxFilesCount: Type.Optional(Type.Integer({ minimum: 1, description: 'Local log files kept (default 5)' })),
    uploadLogs: Type.Optional(
      Type.Boolean({
        description: "Send the service's output lines to the server (default true); false keeps them on the host",
      }),
    ),
  },
  { additionalProperties: false },
);

/** When a running service is restarted; also update.json's `restartConditions` (build-spec.ts). */
export const restartConditionFields = {
  maxMemoryMB: Type.Optional(Type.Integer({ minimum: 1 })),
  maxCpu: Type.Optional(
    Type.Object(
      { percents: Type.Number({ exclusiveMinimum: 0 }), durationSec: Type.Integer({ minimum: 1 }) },
      { additionalProperties: false },
    ),
  ),
  makeCore: Type.Optional(Type.Boolean()),
  checkTimeoutMs: Type.Optional(Type.Integer({ minimum: 1 })),
};

export const ManifestRestart = Type.Object(
  {
    onFault: Type.Optional(Type.Boolean({ description: 'Restart after an unexpected exit (default true)' })),
    ...restartConditionFields,
  },
  { additionalProperties: false },
);

export const ManifestHealth = Type.Object(
  {
    http: Type.Optional(
      Type.Object(
        {
          url: Type.String({ minLength: 1 }),
          expectStatus: Type.Optional(Type.Integer({ minimum: 100, maximum: 599 })),
        },
        { additionalProperties: false },
      ),
    ),
    tcp: Type.Optional(
      Type.Object({ port: Type.Integer({ minimum: 1, maximum: 65535 }) }, { additionalProperties: false }),
    ),
    command: Type.Optional(
      Type.Object(
        { command: Type.String({ minLength: 1 }), args: Type.Optional(Type.Array(Type.String())) },
        { additionalProperties: false },
      ),
    ),
    statusFile: Type.Optional(Type.Object({ path: Type.String({ minLength: 1 }) }, { additionalProperties: false })),
    startupWindowSec: Type.Optional(Type.Integer({ minimum: 1 })),
    intervalSec: Type.Optional(Type.Integer({ minimum: 1 })),
    timeoutSec: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false, description: 'Exactly one of http, tcp, command, statusFile' },
);

const Sha256Hex = Type.String({ pattern: '^[0-9a-f]{64}$' });

/** Where a built version came from; set by `flotilla build`, signed with the rest of the manifest. */
export const ManifestProvenance = Type.Object(
  {
    builder: Type.String({ maxLength: 200, description: '`flotilla build <cli version>`' }),
    sources: Type.Array(
      Type.Object(
        {
          name: Type.String({ maxLength: 64 }),
          url: Type.String({ maxLength: 4096, description: 'Without credentials' }),
          ref: Type.String({ maxLength: 1024, description: 'As given; empty for the default branch' }),
          subdir: Type.Optional(Type.String({ maxLength: 4096 })),
          commit: Type.String({ pattern: '^[0-9a-f]{40}([0-9a-f]{24})?$' }),
          submodules: Type.Optional(
            Type.Array(
              Type.Object(
                {
                  path: Type.String({ maxLength: 4096 }),
                  commit: Type.String({ pattern: '^[0-9a-f]{40}([0-9a-f]{24})?$' }),
                },
                { additionalProperties: false },
              ),
              { maxItems: 1000, description: 'Checked out with the source, at these commits' },
            ),
          ),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 32 },
    ),
    spec: Type.Object({ file: Type.String({ maxLength: 4096 }), sha256: Sha256Hex }, { additionalProperties: false }),
    log: Type.Object(
      { sha256: Sha256Hex, bytes: Type.Integer({ minimum: 0 }) },
      { additionalProperties: false, description: 'The build log, kept by the builder' },
    ),
    startedAt: Type.String({ maxLength: 64 }),
    finishedAt: Type.String({ maxLength: 64 }),
  },
  { additionalProperties: false },
);
export type ManifestProvenance = Static<typeof ManifestProvenance>;

/** The suffix that names a client version: `3.5.1_1+client` is client version `3.5.1_1`. */
export const clientVersionSuffix = '+client';

/** The name of generation `generation` of the client versions of `developerVersion`, without the suffix. */
export function clientVersionName(developerVersion: string, generation: number): string {
  return generation === 0 ? developerVersion : `${developerVersion}_${generation}`;
}

/** How a client version was made from its developer version; set by `flotilla client-version build`. */
export const ClientProvenance = Type.Object(
  {
    builder: Type.String({ maxLength: 200, description: '`flotilla client-version build <cli version>`' }),
    developerVersion: Type.String({ maxLength: 128 }),
    developerDigest: Type.String({ pattern: '^sha256:[0-9a-f]{64}$' }),
    generation: Type.Integer({ minimum: 0, maximum: 1_000_000, description: '0 for the first, then `_N`' }),
    settings: Type.Array(
      Type.Object(
        {
          name: Type.String({ maxLength: 64 }),
          url: Type.String({ maxLength: 4096, description: 'Without credentials' }),
          ref: Type.String({ maxLength: 1024, description: 'As given; empty for the default branch' }),
          subdir: Type.Optional(Type.String({ maxLength: 4096 })),
          commit: Type.String({ pattern: '^[0-9a-f]{40}([0-9a-f]{24})?$' }),
        },
        { additionalProperties: false },
      ),
      { maxItems: 32 },
    ),
    macros: Type.Array(Type.String({ maxLength: 128 }), { maxItems: 1000, description: 'Names only, never values' }),
    inputs: Type.String({
      pattern: '^[0-9a-f]{64}$',
      description:
        'SHA-256 of the developer digest, settings commits, macro values and private files: equal inputs, equal version',
    }),
    privateFiles: Type.Optional(
      Type.Array(Type.String({ maxLength: 512 }), { maxItems: 200, description: 'Paths only, never contents' }),
    ),
    consumer: Type.Optional(
      Type.String({
        pattern: '^[a-z0-9][a-z0-9-]{0,62}$',
        description: 'Built by the provider for this consumer server, which alone is offered it',
      }),
    ),
    log: Type.Object({ sha256: Sha256Hex, bytes: Type.Integer({ minimum: 0 }) }, { additionalProperties: false }),
    startedAt: Type.String({ maxLength: 64 }),
    finishedAt: Type.String({ maxLength: 64 }),
  },
  { additionalProperties: false },
);
export type ClientProvenance = Static<typeof ClientProvenance>;

/** `flotilla.json` at the root of every artifact: how the agent installs, runs and watches the service. */
export const InstallManifest = Type.Object(
  {
    install: Type.Optional(Type.Array(ManifestCommand, { description: 'Run in the new build directory' })),
    postInstall: Type.Optional(Type.Array(ManifestCommand, { description: 'Run in the working directory' })),
    run: Type.Optional(ManifestRun),
    logs: Type.Optional(ManifestLogs),
    faultFilesMatch: Type.Optional(
      Type.Array(Type.String(), { description: 'Globs of crash files for fault reports' }),
    ),
    restart: Type.Optional(ManifestRestart),
    health: Type.Optional(ManifestHealth),
    provenance: Type.Optional(ManifestProvenance),
    client: Type.Optional(ClientProvenance),
  },
  { additionalProperties: false },
);
export type InstallManifest = Static<typeof InstallManifest>;

export const VersionSummary = Type.Object({
  service: Type.String(),
  version: Type.String(),
  digest: Type.String({ description: '`sha256:<hex>` of the artifact' }),
  size: Type.Integer(),
  notes: Type.Union([Type.String(), Type.Null()]),
  author: Type.String(),
  createdAt: Type.String(),
  kind: Type.Optional(
    Type.Union([Type.Literal('developer'), Type.Literal('client')], {
      description: 'A client version is named `<name>+client` in `version` and everywhere a version is named',
    }),
  ),
  name: Type.Optional(Type.String({ description: 'The name without the kind: `3.5.1_1` for `3.5.1_1+client`' })),
  client: Type.Optional(
    Type.Object({
      developerVersion: Type.String(),
      generation: Type.Integer(),
      inputs: Type.String(),
      settings: Type.Array(Type.Object({ name: Type.String(), url: Type.String(), commit: Type.String() })),
      consumer: Type.Optional(Type.String({ description: 'The consumer server it was built for' })),
    }),
  ),
});
export type VersionSummary = Static<typeof VersionSummary>;

export const VersionDetail = Type.Object({
  ...VersionSummary.properties,
  manifest: InstallManifest,
  signedManifest: Type.String({ description: 'Canonical JSON that the signature covers' }),
  signature: Type.String({ description: 'Base64 Ed25519 signature over signedManifest' }),
  keyId: Type.String({ description: 'SHA-256 (hex) of the raw signing public key' }),
});
export type VersionDetail = Static<typeof VersionDetail>;

export const VersionList = Type.Object({
  versions: Type.Array(VersionSummary),
  nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `cursor` for the next page' }),
});
export type VersionList = Static<typeof VersionList>;

export const VersionListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  cursor: Type.Optional(Type.String({ description: 'The last version of the previous page' })),
  kind: Type.Optional(
    Type.Union([Type.Literal('developer'), Type.Literal('client'), Type.Literal('all')], {
      default: 'developer',
      description: 'Which versions: developer (the default), client or all',
    }),
  ),
});
export type VersionListQuery = Static<typeof VersionListQuery>;

export const PublishQuery = Type.Object({
  sha256: Type.Optional(Type.String({ pattern: '^[0-9a-fA-F]{64}$', description: "The client's digest of the body" })),
  notes: Type.Optional(Type.String({ maxLength: 10_000 })),
});
export type PublishQuery = Static<typeof PublishQuery>;

export const SigningKey = Type.Object({
  algorithm: Type.Literal('ed25519'),
  keyId: Type.String({ description: 'SHA-256 (hex) of the raw 32-byte public key' }),
  publicKeyPem: Type.String(),
});
export type SigningKey = Static<typeof SigningKey>;
