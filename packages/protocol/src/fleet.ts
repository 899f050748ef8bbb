import { type Static, Type } from 'typebox';

// The fleet view: per environment and service, the desired version against what each instance runs,
// with the first break in the distribution path named.

/**
 * The first that holds wins, in this order: `stale` (the agent stopped reporting), `not-reported` (the
 * agent never reported the service), `crash-looping` (3 or more faults in the last 10 minutes, or the
 * agent holds it failed after 3 or more failures), `failed` (the service failed, or the update was
 * refused or rolled back), `updating`, `stopped`, `behind` (it does not run what it is served and no
 * update is under way), `not-desired-yet` (it runs what it is served; its rollout wave has not
 * started), `ok`. `ok` and `not-desired-yet` are not alerts.
 */
export const FleetVerdict = Type.Union([
  Type.Literal('ok'),
  Type.Literal('not-desired-yet'),
  Type.Literal('stale'),
  Type.Literal('not-reported'),
  Type.Literal('updating'),
  Type.Literal('failed'),
  Type.Literal('stopped'),
  Type.Literal('behind'),
  Type.Literal('crash-looping'),
]);
export type FleetVerdict = Static<typeof FleetVerdict>;

export const FleetFault = Type.Object({
  id: Type.String(),
  /** ISO time the fault happened. */
  time: Type.String(),
  version: Type.Union([Type.String(), Type.Null()]),
  /** `exit`, `spawn`, `memory` or `cpu`. */
  reason: Type.String(),
  exitCode: Type.Union([Type.Integer(), Type.Null()]),
  signal: Type.Union([Type.String(), Type.Null()]),
});
export type FleetFault = Static<typeof FleetFault>;

export const FleetInstanceRow = Type.Object({
  instanceId: Type.String(),
  labels: Type.Record(Type.String(), Type.String()),
  lastSeenAt: Type.String(),
  stale: Type.Boolean(),
  /** What this instance is served (differs from the environment's during a rollout wave). */
  desiredVersion: Type.Union([Type.String(), Type.Null()]),
  version: Type.Union([Type.String(), Type.Null()]),
  targetVersion: Type.Union([Type.String(), Type.Null()]),
  state: Type.Union([Type.String(), Type.Null()]),
  updateError: Type.Union([Type.String(), Type.Null()]),
  failureCount: Type.Integer(),
  verdict: FleetVerdict,
  /** Why, in words, with its cause, when the verdict is not `ok`. */
  reason: Type.Union([Type.String(), Type.Null()]),
  /** Faults of this service on this instance in the crash-loop window (the last 10 minutes). */
  recentFaults: Type.Integer(),
  /** The newest of those faults, so a row can link to it; null when there is none. */
  lastFault: Type.Union([FleetFault, Type.Null()]),
});
export type FleetInstanceRow = Static<typeof FleetInstanceRow>;

export const FleetService = Type.Object({
  environment: Type.String(),
  service: Type.String(),
  desiredVersion: Type.String(),
  counts: Type.Record(Type.String(), Type.Integer(), { description: 'Instances per verdict' }),
  instances: Type.Array(FleetInstanceRow),
});
export type FleetService = Static<typeof FleetService>;

export const FleetQuery = Type.Object({
  environment: Type.Optional(Type.String()),
  service: Type.Optional(Type.String()),
  /** Only this instance's rows (its environment's services). */
  instance: Type.Optional(Type.String()),
  /** `true`: only alerts, leaving out `ok` and `not-desired-yet` (the counts still cover all). */
  alerts: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])),
  /** Instances per service (the counts always cover all). */
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 200 })),
});
export type FleetQuery = Static<typeof FleetQuery>;

export const FleetView = Type.Object({ services: Type.Array(FleetService) });
export type FleetView = Static<typeof FleetView>;
