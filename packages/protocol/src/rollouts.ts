import { type Static, Type } from 'typebox';
import { AgentDesiredQuery } from './desired.ts';

/** `GET /api/v1/agent/desired` with the agent naming itself, so it gets its rollout wave's revision. */
export const AgentDesiredInstanceQuery = Type.Object({
  ...AgentDesiredQuery.properties,
  instance: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 1024,
      description: "This agent's instance id; while a rollout is active it decides the revision served",
    }),
  ),
});
export type AgentDesiredInstanceQuery = Static<typeof AgentDesiredInstanceQuery>;

export const RolloutStateName = Type.Union(
  ['running', 'waiting_approval', 'paused', 'completed', 'aborted'].map((s) => Type.Literal(s)),
);

const Name = Type.String({ minLength: 1, maxLength: 200 });

export const RolloutWave = Type.Union([
  Type.Object({ percent: Type.Number({ exclusiveMinimum: 0, maximum: 100 }) }, { additionalProperties: false }),
  Type.Object(
    { selector: Type.Record(Type.String({ minLength: 1, maxLength: 1024 }), Type.String({ maxLength: 1024 })) },
    { additionalProperties: false },
  ),
]);
export type RolloutWave = Static<typeof RolloutWave>;

export const RolloutStart = Type.Object(
  {
    set: Type.Optional(Type.Record(Name, Name)),
    remove: Type.Optional(Type.Array(Name, { maxItems: 1000 })),
    comment: Type.Optional(Type.String({ maxLength: 1000 })),
    waves: Type.Array(RolloutWave, { minItems: 1, maxItems: 20 }),
    successThreshold: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1, default: 0.95 })),
    errorThreshold: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1, default: 0.1 })),
    onError: Type.Optional(Type.Union([Type.Literal('pause'), Type.Literal('abort')])),
    requireApproval: Type.Optional(Type.Boolean()),
    minWaveSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 30 * 86_400 })),
    seed: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        description: 'Fixes which instances fall in which percentage wave (to repeat a rollout); random by default',
      }),
    ),
  },
  { additionalProperties: false },
);
export type RolloutStart = Static<typeof RolloutStart>;

export const RolloutWaveStatus = Type.Object({
  index: Type.Integer(),
  wave: RolloutWave,
  instances: Type.Integer(),
  succeeded: Type.Integer(),
  failed: Type.Integer(),
  pending: Type.Integer(),
});

export const RolloutEvent = Type.Object({
  at: Type.String(),
  from: Type.Union([RolloutStateName, Type.Null()]),
  to: RolloutStateName,
  wave: Type.Integer(),
  actor: Type.String(),
  reason: Type.Union([Type.String(), Type.Null()]),
});

/** One service the rollout changes: `from` null when it adds the service, `to` null when it removes it. */
export const RolloutChange = Type.Object({
  service: Type.String(),
  from: Type.Union([Type.String(), Type.Null()]),
  to: Type.Union([Type.String(), Type.Null()]),
});
export type RolloutChange = Static<typeof RolloutChange>;

export const Rollout = Type.Object({
  id: Type.String(),
  environment: Type.String(),
  state: RolloutStateName,
  baseRevision: Type.Integer(),
  targetRevision: Type.Integer(),
  changes: Type.Array(RolloutChange, {
    description: 'What the target revision changes against the base, by service name (e.g. web 1.1.0 → 1.2.0)',
  }),
  currentWave: Type.Integer({ description: 'Index of the current wave, from 0' }),
  seed: Type.String({ description: 'Random per rollout; with an instance id it decides the percentage wave' }),
  successThreshold: Type.Number(),
  errorThreshold: Type.Number(),
  onError: Type.String(),
  requireApproval: Type.Boolean(),
  minWaveSeconds: Type.Integer(),
  comment: Type.Union([Type.String(), Type.Null()]),
  createdBy: Type.String(),
  createdAt: Type.String(),
  waveStartedAt: Type.String(),
  updatedAt: Type.String(),
  finishedAt: Type.Union([Type.String(), Type.Null()]),
  waves: Type.Array(RolloutWaveStatus),
  history: Type.Array(RolloutEvent),
});
export type Rollout = Static<typeof Rollout>;

export const RolloutList = Type.Object({ rollouts: Type.Array(Rollout) });
export type RolloutList = Static<typeof RolloutList>;

export const RolloutListQuery = Type.Object(
  {
    active: Type.Optional(
      Type.Boolean({ description: 'Only the active rollout (running, waiting for approval or paused), if any' }),
    ),
  },
  { additionalProperties: false },
);
export type RolloutListQuery = Static<typeof RolloutListQuery>;

export const RolloutParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) });
export type RolloutParams = Static<typeof RolloutParams>;

export const RolloutAction = Type.Union(['pause', 'resume', 'approve', 'abort'].map((s) => Type.Literal(s)));
export const RolloutActionParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 100 }),
  action: RolloutAction,
});
export type RolloutActionParams = Static<typeof RolloutActionParams>;
