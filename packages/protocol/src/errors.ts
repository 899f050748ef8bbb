import { type Static, Type } from 'typebox';

export const ErrorCode = Type.Union([
  Type.Literal('invalid'),
  Type.Literal('unauthorized'),
  Type.Literal('forbidden'),
  Type.Literal('not_found'),
  Type.Literal('conflict'),
  Type.Literal('timeout'),
  Type.Literal('payload_too_large'),
  Type.Literal('headers_too_large'),
  Type.Literal('rate_limited'),
  Type.Literal('unavailable'),
  Type.Literal('internal'),
]);
export type ErrorCode = Static<typeof ErrorCode>;

/** Every error answer has this body. */
export const ErrorBody = Type.Object({
  error: Type.Object({ code: ErrorCode, message: Type.String() }),
});
export type ErrorBody = Static<typeof ErrorBody>;
