import { type Static, Type } from 'typebox';

// Wire schemas of fault reports: when a service exits unexpectedly the agent uploads a tar.gz holding
// `fault.json` (FaultReportMeta), `log-tail.txt` and the matched files under `files/`.

export const FaultReportMeta = Type.Object(
  {
    instanceId: Type.String({ minLength: 1, maxLength: 200 }),
    service: Type.String({ minLength: 1, maxLength: 200 }),
    version: Type.Union([Type.String({ maxLength: 200 }), Type.Null()]),
    /** ISO time of the fault. */
    time: Type.String({ format: 'date-time', maxLength: 64 }),
    /** `exit`, `spawn`, `memory`, `cpu` (restart conditions), or `update-rolled-back`. */
    reason: Type.String({ maxLength: 64 }),
    exitCode: Type.Union([Type.Integer(), Type.Null()]),
    signal: Type.Union([Type.String({ maxLength: 32 }), Type.Null()]),
    /** The supervisor's state at the time, as the agent reports it. */
    state: Type.Record(Type.String(), Type.Unknown()),
    /** Names (relative to `files/`) of the files packed with the report. */
    files: Type.Array(Type.String({ maxLength: 1024 }), { maxItems: 1000 }),
    /** Accepted for convenience and ignored: the server takes the environment from the agent's token. */
    environment: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);
export type FaultReportMeta = Static<typeof FaultReportMeta>;

export const FaultSummary = Type.Object({
  id: Type.String(),
  receivedAt: Type.String(),
  time: Type.String(),
  environment: Type.String(),
  instanceId: Type.String(),
  service: Type.String(),
  version: Type.Union([Type.String(), Type.Null()]),
  reason: Type.String(),
  exitCode: Type.Union([Type.Integer(), Type.Null()]),
  signal: Type.Union([Type.String(), Type.Null()]),
  size: Type.Integer({ description: 'Archive size in bytes' }),
  files: Type.Array(Type.String()),
});
export type FaultSummary = Static<typeof FaultSummary>;

export const FaultDetail = Type.Object({
  ...FaultSummary.properties,
  state: Type.Record(Type.String(), Type.Unknown()),
  logTail: Type.Array(Type.String()),
  digest: Type.String({ description: 'sha256 of the archive' }),
});
export type FaultDetail = Static<typeof FaultDetail>;

export const FaultQuery = Type.Object({
  service: Type.Optional(Type.String()),
  instance: Type.Optional(Type.String()),
  environment: Type.Optional(Type.String()),
  from: Type.Optional(Type.String({ format: 'date-time' })),
  to: Type.Optional(Type.String({ format: 'date-time' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  cursor: Type.Optional(Type.String()),
});
export type FaultQuery = Static<typeof FaultQuery>;

export const FaultList = Type.Object({
  faults: Type.Array(FaultSummary),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});
export type FaultList = Static<typeof FaultList>;

export const FaultIdParams = Type.Object({ id: Type.String() });
export type FaultIdParams = Static<typeof FaultIdParams>;

export const FaultAccepted = Type.Object({ id: Type.String() });
export type FaultAccepted = Static<typeof FaultAccepted>;
