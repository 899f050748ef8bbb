export interface ThreadInit {
  host: string;
  port: number;
  /** The main thread's private socket, where every request that is not a check-in is passed on. */
  upstreamSocket: string;
  defaultApp: string | null;
  trustedProxies: string[];
  bodyLimit: number;
  keepAliveTimeoutMs: number;
  requestTimeoutMs: number;
  headersTimeoutMs: number;
}

/**
 * The check-ins a thread read in one event-loop turn, as parallel lists: flat lists of strings
 * cross threads for a fifth of what the same data costs as JSON (measured). The main thread
 * parses each body once, as it does for a check-in it takes itself.
 */
export interface CheckinBatch {
  apps: string[];
  /** Used for geolocation and rate limiting on the main thread, then dropped like any other. */
  clientIps: string[];
  bodies: string[];
}

export interface CheckinFailure {
  status: number;
  code: string;
  message: string;
  headers: Record<string, string>;
}

/** The answer body once the check-in is durable, or why it was refused. */
export type CheckinResult = string | CheckinFailure;

/**
 * Results of one message: each is an index into `answers` (a stored check-in's answer body; a batch
 * holds one or a few distinct ones, so each is copied once) or a failure.
 */
export interface CheckinResults {
  answers: string[];
  results: Array<number | CheckinFailure>;
}

export interface HttpSample {
  route: string;
  status: number;
  /** Seconds each request took, from its first byte to its answer. */
  durations: Float64Array;
}

export type ToMain =
  | { type: 'listening'; port: number }
  | ({ type: 'checkins'; seq: number } & CheckinBatch)
  /** Each second, and in answer to a flush (with its id). */
  | { type: 'http-metrics'; samples: HttpSample[]; flushId?: number }
  | { type: 'error'; message: string };

export type ToThread =
  | ({ type: 'results'; seq: number } & CheckinResults)
  | { type: 'flush-metrics'; flushId: number }
  | { type: 'close'; graceMs: number };
