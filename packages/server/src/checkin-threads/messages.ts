export interface ThreadInit {
  host: string;
  port: number;
  /** The main thread's private socket, where every request that is not a check-in is passed on. */
  upstreamSocket: string;
  defaultApp: string | null;
  /** Agent routes read here and handed over in batches (see ThreadRoute), with their body limits. */
  threadRoutes: Array<{ path: string; bodyLimit: number }>;
  /** Long-poll GET routes the thread parks itself and hands over (see ThreadPollRoute). */
  pollRoutes: string[];
  trustedProxies: string[];
  bodyLimit: number;
  keepAliveTimeoutMs: number;
  requestTimeoutMs: number;
  headersTimeoutMs: number;
  /** Client connections this thread may hold (see connectionBudget). */
  connectionLimit: number;
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
  /** The rate-limit bucket when it is not the client address alone (see rateLimitKey), else "". */
  rateKeys: string[];
  bodies: string[];
  /** How many of these carried X-Forwarded-For from a peer not in --trusted-proxies. */
  untrustedForwarded: number;
}

export interface CheckinFailure {
  status: number;
  code: string;
  message: string;
  headers: Record<string, string>;
}

/** An answer given while the store could not take the check-in (see --on-store-failure). */
export interface CheckinUnstored {
  body: string;
  unstored: string;
}

/** The answer body once the check-in is durable, the answer without storing, or why it was refused. */
export type CheckinResult = string | CheckinUnstored | CheckinFailure;

/**
 * Results of one message: each is an index into `answers` (a stored check-in's answer body; a batch
 * holds one or a few distinct ones, so each is copied once), an answer given unstored, or a failure.
 */
export interface CheckinResults {
  answers: string[];
  results: Array<number | CheckinUnstored | CheckinFailure>;
}

/** The main thread's answer to one thread-route request. */
export interface RouteAnswer {
  status: number;
  body: string;
  headers?: Record<string, string>;
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
  /** Requests to thread routes read in one event-loop turn: path, Authorization header and body of each. */
  | { type: 'requests'; seq: number; paths: string[]; authorizations: string[]; bodies: string[] }
  /** Each second, and in answer to a flush (with its id). */
  | { type: 'http-metrics'; samples: HttpSample[]; refused?: number; flushId?: number }
  /** Polls parked in one event-loop turn; `ids` are the thread's own. */
  | { type: 'polls'; ids: number[]; paths: string[]; authorizations: string[]; queries: string[]; etags: string[] }
  /** Polls whose clients left before their answer. */
  | { type: 'poll-cancel'; ids: number[] }
  | { type: 'error'; message: string };

export type ToThread =
  | ({ type: 'results'; seq: number } & CheckinResults)
  | { type: 'answers'; seq: number; answers: RouteAnswer[] }
  | { type: 'poll-answers'; ids: number[]; answers: RouteAnswer[] }
  | { type: 'flush-metrics'; flushId: number }
  | { type: 'close'; graceMs: number };
