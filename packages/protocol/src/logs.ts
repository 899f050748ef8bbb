import { type Static, Type } from 'typebox';

// Wire schemas of service logs: agents upload batches, people search and follow them.

export const LogLevel = Type.Union([
  Type.Literal('trace'),
  Type.Literal('debug'),
  Type.Literal('info'),
  Type.Literal('warn'),
  Type.Literal('error'),
]);
export type LogLevel = Static<typeof LogLevel>;

export const LogStream = Type.Union([Type.Literal('stdout'), Type.Literal('stderr')]);

/** One line as the agent uploads it. */
export const AgentLogLine = Type.Object(
  {
    service: Type.String({ minLength: 1, maxLength: 200 }),
    version: Type.Optional(Type.String({ maxLength: 200 })),
    /** Process id of the service process that wrote the line. */
    pid: Type.Optional(Type.Integer({ minimum: 0 })),
    time: Type.String({ format: 'date-time', maxLength: 64 }),
    level: LogLevel,
    unit: Type.String({ maxLength: 200 }),
    stream: LogStream,
    message: Type.String({ maxLength: 65536 }),
  },
  { additionalProperties: false },
);
export type AgentLogLine = Static<typeof AgentLogLine>;

export const AgentLogBatch = Type.Object(
  {
    instanceId: Type.String({ minLength: 1, maxLength: 200 }),
    lines: Type.Array(AgentLogLine, { maxItems: 5000 }),
    /** Lines the agent dropped (buffer full during an outage) since its previous accepted batch. */
    dropped: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);
export type AgentLogBatch = Static<typeof AgentLogBatch>;

export const AgentLogAccepted = Type.Object({ accepted: Type.Integer() });
export type AgentLogAccepted = Static<typeof AgentLogAccepted>;

/** A stored line. `id` orders lines and pages through them. */
export const LogRecord = Type.Object({
  id: Type.String(),
  time: Type.String(),
  receivedAt: Type.String(),
  environment: Type.String(),
  instanceId: Type.String(),
  service: Type.String(),
  version: Type.Union([Type.String(), Type.Null()]),
  pid: Type.Union([Type.Integer(), Type.Null()]),
  level: LogLevel,
  unit: Type.String(),
  stream: LogStream,
  message: Type.String(),
});
export type LogRecord = Static<typeof LogRecord>;

export const LogQuery = Type.Object({
  service: Type.Optional(Type.String()),
  instance: Type.Optional(Type.String()),
  environment: Type.Optional(Type.String()),
  /** Only lines written by this version (e.g. one that failed its health gate and was rolled back). */
  version: Type.Optional(Type.String({ maxLength: 200 })),
  /** This level and above. */
  level: Type.Optional(LogLevel),
  /** Lines at or after this time (e.g. a few minutes before a fault). */
  from: Type.Optional(Type.String({ format: 'date-time' })),
  /** Lines at or before this time; with `from`, a range the newest-first pages stay inside. */
  to: Type.Optional(Type.String({ format: 'date-time' })),
  /** Case-insensitive substring of the message. */
  q: Type.Optional(Type.String({ maxLength: 500 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 200 })),
  /** Newest first; pass the previous page's `nextCursor` for older lines. */
  cursor: Type.Optional(Type.String()),
  /** `1`: answer with server-sent events (`event: line`, data = LogRecord JSON) of new matching lines. */
  follow: Type.Optional(Type.Union([Type.Literal('1'), Type.Literal('true')])),
});
export type LogQuery = Static<typeof LogQuery>;

export const LogPage = Type.Object({
  lines: Type.Array(LogRecord),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});
export type LogPage = Static<typeof LogPage>;
