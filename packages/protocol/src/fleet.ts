import { type Static, Type } from 'typebox';

// The fleet view: per environment and service, the desired version against what each instance runs,
// with the first break in the distribution path named.

/**
 * `ok`: runs the desired version. The rest are alerts; the first that holds wins, in this order:
 * `stale` (the agent stopped reporting), `not-reported` (the agent never reported the service),
 * `failed` (the service failed, or the update was refused or rolled back), `updating`, `stopped`,
 * `not-desired-yet` (a rollout has not reached the instance), `behind` (another version runs and no
 * update is under way).
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
]);
export type FleetVerdict = Static<typeof FleetVerdict>;

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
  /** Why, in words, when the verdict is not `ok`. */
  reason: Type.Union([Type.String(), Type.Null()]),
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
  /** `true`: only instances whose verdict is not `ok`. */
  alerts: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])),
  /** Instances per service (the counts always cover all). */
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 200 })),
});
export type FleetQuery = Static<typeof FleetQuery>;

export const FleetView = Type.Object({ services: Type.Array(FleetService) });
export type FleetView = Static<typeof FleetView>;
