import { type Static, Type } from 'typebox';

const Casing = Type.Union([Type.Literal('camel'), Type.Literal('pascal')]);

export const AppFileConfig = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$' }),
    default: Type.Optional(Type.Boolean()),
    upgradeResponseConfig: Type.Optional(Type.String({ minLength: 1 })),
    requestSchema: Type.Optional(Type.String({ minLength: 1 })),
    queryPeriod: Type.Optional(Type.String()),
    responseCasing: Type.Optional(Casing),
    catalog: Type.Optional(
      Type.Object(
        {
          service: Type.String({ minLength: 1 }),
          tags: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'tag → environment' })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

/** The YAML file given with `--config`; every key can also come from a flag or env var. */
export const FileConfig = Type.Object(
  {
    port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
    host: Type.Optional(Type.String()),
    dataDir: Type.Optional(Type.String()),
    database: Type.Optional(Type.String()),
    blobStore: Type.Optional(
      Type.String({ description: 'file (default) or s3://bucket[/prefix]?endpoint=…&region=…&forcePathStyle=true' }),
    ),
    trustedProxies: Type.Optional(Type.Array(Type.String())),
    geodb: Type.Optional(Type.String()),
    rawRetention: Type.Optional(Type.String()),
    logRetention: Type.Optional(Type.String()),
    faultRetention: Type.Optional(Type.String()),
    driftStaleAfter: Type.Optional(Type.String()),
    driftRemoveAfter: Type.Optional(Type.String()),
    meshRetention: Type.Optional(Type.String()),
    trashRetention: Type.Optional(Type.String()),
    buildRetention: Type.Optional(Type.String()),
    faultMaxCount: Type.Optional(Type.Integer({ minimum: 1, description: 'Fault reports kept per service' })),
    logQuotaBytes: Type.Optional(
      Type.Integer({ minimum: 0, description: 'Log message bytes per agent instance per minute; 0 is off' }),
    ),
    logQuotaLines: Type.Optional(
      Type.Integer({ minimum: 0, description: 'Log lines per agent instance per minute; 0 is off' }),
    ),
    faultQuota: Type.Optional(
      Type.Integer({ minimum: 0, description: 'Fault reports per agent instance per hour; 0 is off' }),
    ),
    logFollowMax: Type.Optional(
      Type.Integer({ minimum: 1, description: 'Log-follow streams open at once per user or token' }),
    ),
    buildConcurrency: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 64, description: 'Queued builds run at once, oldest first' }),
    ),
    rateLimit: Type.Optional(
      Type.Integer({ minimum: 0, description: 'Check-ins per minute per client address; 0 is off' }),
    ),
    onStoreFailure: Type.Optional(
      Type.Union([Type.Literal('answer'), Type.Literal('refuse')], {
        description: 'When the store cannot take a check-in: answer it unstored, or refuse with 503',
      }),
    ),
    checkinThreads: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 64,
        description: 'Threads that take HTTP connections; 0 is the main thread',
      }),
    ),
    logLevel: Type.Optional(
      Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l))),
    ),
    logFormat: Type.Optional(
      Type.Union([Type.Literal('auto'), Type.Literal('pretty'), Type.Literal('json')], {
        description: 'pretty (time, level, message, fields) or json lines; auto is pretty on a terminal',
      }),
    ),
    influxdb: Type.Optional(
      Type.Object(
        { url: Type.String(), user: Type.Optional(Type.String()), pass: Type.Optional(Type.String()) },
        { additionalProperties: false },
      ),
    ),
    apps: Type.Optional(Type.Array(AppFileConfig)),
  },
  { additionalProperties: false },
);
export type FileConfig = Static<typeof FileConfig>;
export type AppFileConfig = Static<typeof AppFileConfig>;

export { type ServerOptions, serverOptionTable } from './options.ts';
