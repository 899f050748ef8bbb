// Wire schemas of builds queued on the server: one job per `flotilla build` without `--local`.
import { type Static, Type } from 'typebox';

export const BuildState = Type.Union([
  Type.Literal('queued'),
  Type.Literal('running'),
  Type.Literal('succeeded'),
  Type.Literal('failed'),
  Type.Literal('cancelled'),
]);
export type BuildState = Static<typeof BuildState>;

/** The states a job never leaves. */
export const finishedBuildStates: readonly BuildState[] = ['succeeded', 'failed', 'cancelled'];

/** One git source, as `--source name=<url>[#ref][:subdir]` names it. */
export const BuildSource = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$' }),
    // No `#`: the builder gets the source back as `name=url#ref:subdir`.
    url: Type.String({ minLength: 1, maxLength: 4096, pattern: '^[^-#\\s][^#\\s]*$' }),
    ref: Type.String({ maxLength: 255, pattern: '^$|^(?!-)(?!.*\\.\\.)[A-Za-z0-9._/+@-]{1,255}$' }),
    subdir: Type.Optional(Type.String({ minLength: 1, maxLength: 4096, pattern: '^[^/:\\s][^:]*$' })),
    submodules: Type.Optional(Type.Boolean({ description: 'Check out its submodules too, recursively' })),
  },
  { additionalProperties: false },
);
export type BuildSource = Static<typeof BuildSource>;

export const BuildCreate = Type.Object(
  {
    version: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$',
        description: 'Default: the next patch version of the newest',
      }),
    ),
    sources: Type.Array(BuildSource, { minItems: 1, maxItems: 32, description: 'The first holds the spec' }),
    macros: Type.Optional(
      Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_.-]{0,127}$' }), Type.String({ maxLength: 8192 }), {
        maxProperties: 200,
      }),
    ),
    privateFiles: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 512 }), {
        maxItems: 200,
        description: "Paths of the service's private files to add to the version",
      }),
    ),
    setDesired: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'Make the version desired in this environment' }),
    ),
    tagSources: Type.Optional(
      Type.Boolean({ description: "Once published, tag each source's commit `<service>-<version>` and push the tag" }),
    ),
  },
  { additionalProperties: false },
);
export type BuildCreate = Static<typeof BuildCreate>;

/** A client version built on the server: settings repositories applied to a developer version. */
export const ClientBuildCreate = Type.Object(
  {
    from: Type.String({
      pattern: '^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$',
      description: 'The developer version to start from',
    }),
    settings: Type.Array(BuildSource, { maxItems: 32, description: 'Settings repositories, applied in order' }),
    macros: BuildCreate.properties.macros,
    privateFiles: BuildCreate.properties.privateFiles,
    setDesired: BuildCreate.properties.setDesired,
  },
  { additionalProperties: false },
);
export type ClientBuildCreate = Static<typeof ClientBuildCreate>;

/** What a consumer server asks its provider to build for it: no private files, nothing made desired there. */
export const ConsumerClientBuildCreate = Type.Object(
  {
    service: Type.String({ minLength: 1, maxLength: 200 }),
    from: ClientBuildCreate.properties.from,
    settings: ClientBuildCreate.properties.settings,
    macros: BuildCreate.properties.macros,
  },
  { additionalProperties: false },
);
export type ConsumerClientBuildCreate = Static<typeof ConsumerClientBuildCreate>;

export const BuildJob = Type.Object({
  id: Type.Integer(),
  /** `version` builds from git sources by their spec; `client` builds apply settings to `from`. */
  kind: Type.Union([Type.Literal('version'), Type.Literal('client')]),
  service: Type.String(),
  /** The developer version a client build starts from. */
  from: Type.Union([Type.String(), Type.Null()]),
  /** The consumer server a client build was asked for by (provider side). */
  consumer: Type.Union([Type.String(), Type.Null()]),
  tagSources: Type.Boolean(),
  /** As requested; null for the next patch version. */
  version: Type.Union([Type.String(), Type.Null()]),
  /** A version build's git sources, a client build's settings repositories. */
  sources: Type.Array(BuildSource),
  macros: Type.Record(Type.String(), Type.String()),
  privateFiles: Type.Array(Type.String()),
  setDesired: Type.Union([Type.String(), Type.Null()]),
  state: BuildState,
  requestedBy: Type.String(),
  createdAt: Type.String(),
  startedAt: Type.Union([Type.String(), Type.Null()]),
  finishedAt: Type.Union([Type.String(), Type.Null()]),
  /** The version published, once the job succeeded. */
  resultVersion: Type.Union([Type.String(), Type.Null()]),
  error: Type.Union([Type.String(), Type.Null()]),
  /** Bytes of the job's log so far. */
  logBytes: Type.Integer(),
});
export type BuildJob = Static<typeof BuildJob>;

export const BuildListQuery = Type.Object({
  service: Type.Optional(Type.String({ maxLength: 200 })),
  state: Type.Optional(BuildState),
  kind: Type.Optional(Type.Union([Type.Literal('version'), Type.Literal('client')])),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
  before: Type.Optional(Type.Integer({ minimum: 1, description: 'Only jobs with a smaller id' })),
});
export type BuildListQuery = Static<typeof BuildListQuery>;

export const BuildList = Type.Object({ builds: Type.Array(BuildJob) });
export type BuildList = Static<typeof BuildList>;

export const BuildLogQuery = Type.Object({
  follow: Type.Optional(
    Type.Union([Type.Literal('1'), Type.Literal('true')], {
      description: 'A server-sent-event stream of the log until the job ends',
    }),
  ),
  offset: Type.Optional(Type.Integer({ minimum: 0, description: 'Start at this byte of the log' })),
});
export type BuildLogQuery = Static<typeof BuildLogQuery>;
