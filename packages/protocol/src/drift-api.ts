import { type Static, Type } from 'typebox';
import { TrackerRemoteVersion, type VersionTracker } from './drift.ts';
import { driftReportLimits } from './drift-constants.ts';

// Flotilla's own drift wire shapes: the batch report agents send (the Kubernetes drift-agent and
// `flotilla agent`'s host trackers) and what the read API answers. Opvic's shapes stay in drift.ts.

const Str = (minLength: number, maxLength: number, description?: string) =>
  Type.String({ minLength, maxLength, ...(description ? { description } : {}) });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

export const DriftRunningVersion = Type.Object(
  {
    runningVersion: Str(0, 256),
    resourceCount: Type.Integer({ minimum: 0, maximum: 10_000_000 }),
    resourceKind: Type.Optional(Str(0, 64)),
    extractedFrom: Type.Optional(Str(0, 1024, 'the image, field or command the version was read from')),
    image: Type.Optional(
      Str(1, 512, 'ImageTag: the image repository without tag or digest, so its own tags can be the upstream'),
    ),
  },
  { additionalProperties: false },
);
export type DriftRunningVersion = Static<typeof DriftRunningVersion>;

export const DriftSubjectReport = Type.Object(
  {
    subject: Str(1, 253, "the tracker's spec.name"),
    namespace: Type.Optional(Nullable(Str(0, 253))),
    versions: Type.Array(DriftRunningVersion, { maxItems: driftReportLimits.versionsPerSubject }),
    upstream: Type.Optional(Nullable(TrackerRemoteVersion)),
    error: Type.Optional(Nullable(Str(0, 2048, 'why the tracker could not be evaluated (shown, never fatal)'))),
  },
  { additionalProperties: false },
);
export type DriftSubjectReport = Static<typeof DriftSubjectReport>;

/**
 * `POST /api/v1/drift/reports`. With `subjects`: those are stored, and with `complete` every other
 * subject of this place is removed (a deleted tracker). Without `subjects`: a heartbeat.
 */
export const DriftReport = Type.Object(
  {
    agentId: Type.String({ minLength: 1, maxLength: 253, pattern: '^[a-zA-Z0-9][a-zA-Z0-9._-]*$' }),
    tags: Type.Optional(Type.Record(Type.String({ maxLength: 63 }), Str(0, 256), { maxProperties: 64 })),
    subjects: Type.Optional(Type.Array(DriftSubjectReport, { maxItems: driftReportLimits.subjects })),
    complete: Type.Optional(Type.Boolean({ description: 'subjects lists every subject of this place' })),
  },
  { additionalProperties: false },
);
export type DriftReport = Static<typeof DriftReport>;

export const DriftReportAnswer = Type.Object({
  stored: Type.Integer({ description: 'subjects written (changed or refreshed)' }),
  removed: Type.Integer({ description: 'subjects of this place removed because the report was complete' }),
});
export type DriftReportAnswer = Static<typeof DriftReportAnswer>;

/** How far behind a subject's oldest running version is; `unknown` when it could not be compared. */
export const driftSeverities = ['none', 'patch', 'minor', 'major', 'unknown'] as const;
export type DriftSeverity = (typeof driftSeverities)[number];

export const DriftItem = Type.Object({
  environment: Type.String(),
  place: Type.String({ description: 'the reporting agent id (cluster or host)' }),
  subject: Type.String(),
  namespace: Nullable(Type.String()),
  tags: Type.Record(Type.String(), Type.String()),
  versions: Type.Array(DriftRunningVersion),
  upstream: Nullable(TrackerRemoteVersion),
  error: Nullable(Type.String({ description: "the tracker's own error, as the agent reported it" })),
  latest: Nullable(Type.String({ description: 'highest upstream version passing the constraint' })),
  behind: Nullable(Type.Enum([...driftSeverities], { description: 'null until the server has compared it' })),
  majorsBehind: Nullable(Type.Integer()),
  minorsBehind: Nullable(Type.Integer()),
  patchesBehind: Nullable(Type.Integer()),
  supportEndsAt: Nullable(Type.String({ format: 'date-time', description: 'endoflife.date: end of support' })),
  upstreamKey: Nullable(Type.String()),
  resolvedAt: Nullable(Type.String({ format: 'date-time' })),
  resolveError: Nullable(Type.String()),
  reportedAt: Type.String({ format: 'date-time' }),
  changedAt: Type.String({ format: 'date-time', description: 'when the reported content last changed' }),
  staleSince: Nullable(Type.String({ format: 'date-time', description: 'set once the place stopped reporting' })),
});
export type DriftItem = Static<typeof DriftItem>;

export const DriftPage = Type.Object({ items: Type.Array(DriftItem), next: Nullable(Type.String()) });
export type DriftPage = Static<typeof DriftPage>;

export const DriftRelease = Type.Object({
  version: Type.String(),
  publishedAt: Type.Optional(Type.String()),
  url: Type.Optional(Type.String()),
  prerelease: Type.Optional(Type.Boolean()),
});
export type DriftRelease = Static<typeof DriftRelease>;

/** Per running version: Opvic's classification, with the newer releases (at most 100, newest first). */
export const DriftVersionResolution = Type.Object({
  runningVersion: Type.String(),
  behind: Type.Enum([...driftSeverities]),
  majorsBehind: Type.Integer(),
  minorsBehind: Type.Integer(),
  patchesBehind: Type.Integer(),
  availableMajors: Type.Array(Type.String()),
  availableMinors: Type.Array(Type.String()),
  availablePatches: Type.Array(Type.String()),
  newer: Type.Array(DriftRelease),
  supportEndsAt: Nullable(Type.String()),
});
export type DriftVersionResolution = Static<typeof DriftVersionResolution>;

/** `GET /api/v1/drift/subjects/:subject`: every place running it, with the per-version resolution. */
export const DriftSubjectDetail = Type.Object({
  subject: Type.String(),
  latest: Nullable(Type.String()),
  places: Type.Array(Type.Intersect([DriftItem, Type.Object({ resolution: Type.Array(DriftVersionResolution) })])),
});
export type DriftSubjectDetail = Static<typeof DriftSubjectDetail>;

/** `GET /api/v1/drift/upstreams`: fetch status of each distinct upstream. */
export const DriftUpstreamStatus = Type.Object({
  key: Type.String(),
  provider: Type.String(),
  subjects: Type.Integer({ description: 'reported (place, subject) rows compared with it' }),
  versions: Nullable(Type.Integer({ description: 'versions in the last good list' })),
  latest: Nullable(Type.String()),
  fetchedAt: Nullable(Type.String({ format: 'date-time' })),
  ageSeconds: Nullable(Type.Integer()),
  error: Nullable(Type.String()),
  errorAt: Nullable(Type.String({ format: 'date-time' })),
  failures: Type.Integer(),
  retryAt: Nullable(Type.String({ format: 'date-time' })),
  rateLimit: Nullable(
    Type.Object({
      limit: Type.Optional(Type.Integer()),
      remaining: Type.Optional(Type.Integer()),
      resetAt: Type.Optional(Type.String()),
    }),
  ),
});
export type DriftUpstreamStatus = Static<typeof DriftUpstreamStatus>;

/** What the server signs for `GET /api/v1/agent/drift/trackers`; the agent runs only what it covers. */
export interface TrackerStatement {
  /** Domain separation: a signed desired list can never pass for a tracker set, nor the reverse. */
  kind: 'flotilla.drift-trackers';
  environment: string;
  /** The set's ETag, without quotes. */
  revision: string;
  /** Sorted by metadata.name. */
  trackers: VersionTracker[];
  issuedAt: string;
  expiresAt: string;
}

/** `GET /api/v1/agent/drift/trackers`: the statement's bytes, its signature and the signing key's id. */
export interface SignedTrackerSet {
  statement: string;
  signature: string;
  keyId: string;
}
