import type { ErrorCode, ErrorRollout } from '@flotilla/protocol';

/** Base of the domain errors that services throw; the HTTP layer maps `code` to a status in one place. */
export class DomainError extends Error {
  readonly code: ErrorCode;
  readonly headers: Record<string, string>;
  constructor(code: ErrorCode, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.headers = headers;
  }
}

export class Invalid extends DomainError {
  constructor(message: string) {
    super('invalid', message);
  }
}

export class NotFound extends DomainError {
  constructor(message: string) {
    super('not_found', message);
  }
}

export class Conflict extends DomainError {
  constructor(message: string, code: 'conflict' | 'rollout_active' = 'conflict') {
    super(code, message);
  }
}

/** A change refused because the environment has an active rollout; the body names the rollout. */
export class RolloutActive extends Conflict {
  readonly rollout: ErrorRollout;
  constructor(message: string, rollout: ErrorRollout) {
    super(message, 'rollout_active');
    this.rollout = rollout;
  }
}

export class Unauthorized extends DomainError {
  constructor(message = 'a valid credential is required') {
    super('unauthorized', message, { 'www-authenticate': 'Bearer' });
  }
}

export class Forbidden extends DomainError {
  constructor(message: string) {
    super('forbidden', message);
  }
}

export class Unavailable extends DomainError {
  constructor(message: string, retryAfterSeconds?: number) {
    super('unavailable', message, retryAfterSeconds ? { 'retry-after': String(retryAfterSeconds) } : {});
  }
}

export const statusByCode: Record<ErrorCode, number> = {
  invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  rollout_active: 409,
  timeout: 408,
  payload_too_large: 413,
  headers_too_large: 431,
  rate_limited: 429,
  unavailable: 503,
  internal: 500,
};

/** A configuration problem found at start; the message names the file, the field and the fault. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}
