import { type Static, Type } from 'typebox';
import { RolloutChange } from './rollouts.ts';

export const ErrorCode = Type.Union([
  Type.Literal('invalid'),
  Type.Literal('unauthorized'),
  Type.Literal('forbidden'),
  Type.Literal('not_found'),
  Type.Literal('conflict'),
  Type.Literal('rollout_active'),
  Type.Literal('timeout'),
  Type.Literal('payload_too_large'),
  Type.Literal('headers_too_large'),
  Type.Literal('rate_limited'),
  Type.Literal('unavailable'),
  Type.Literal('internal'),
]);
export type ErrorCode = Static<typeof ErrorCode>;

/** The rollout that refused a change (`rollout_active`), so a client can link to it or abort it. */
export const ErrorRollout = Type.Object({
  id: Type.String(),
  environment: Type.String(),
  state: Type.String({ description: 'running, waiting_approval or paused' }),
  changes: Type.Array(RolloutChange),
});
export type ErrorRollout = Static<typeof ErrorRollout>;

/** Every error answer has this body. */
export const ErrorBody = Type.Object({
  error: Type.Object({ code: ErrorCode, message: Type.String(), rollout: Type.Optional(ErrorRollout) }),
});
export type ErrorBody = Static<typeof ErrorBody>;
