/** What went wrong, so callers can tell a server refusal from an unreachable or misbehaving one. */
export type UpgradeCheckErrorKind =
  | 'timeout'
  | 'aborted'
  | 'network'
  | 'http-status'
  | 'invalid-json'
  | 'invalid-response';

export interface UpgradeCheckErrorDetails {
  kind: UpgradeCheckErrorKind;
  status?: number;
  retryAfterMs?: number;
  cause?: unknown;
}

/** The one error type `checkForUpgrade` throws once its options are valid. */
export class UpgradeCheckError extends Error {
  override readonly name = 'UpgradeCheckError';
  readonly kind: UpgradeCheckErrorKind;
  /** HTTP status of the answer, when there was one. */
  readonly status: number | undefined;
  /** The server's `Retry-After`, in milliseconds from when the answer arrived. */
  readonly retryAfterMs: number | undefined;

  constructor(message: string, details: UpgradeCheckErrorDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.kind = details.kind;
    this.status = details.status;
    this.retryAfterMs = details.retryAfterMs;
  }
}
