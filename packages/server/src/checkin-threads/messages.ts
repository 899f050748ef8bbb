import type { ParsedCheckin } from '../checkin/parse-request.ts';
import type { CompiledSchema } from '../checkin/request-schema.ts';

/** What a check-in thread needs to parse requests itself: request schemas do not change while running. */
export interface ThreadApp {
  name: string;
  schema: CompiledSchema;
}

export interface ThreadInit {
  host: string;
  port: number;
  /** The main thread's private socket, where every request that is not a check-in is passed on. */
  upstreamSocket: string;
  apps: ThreadApp[];
  defaultApp: string | null;
  trustedProxies: string[];
  bodyLimit: number;
  keepAliveTimeoutMs: number;
  requestTimeoutMs: number;
  headersTimeoutMs: number;
}

export interface CheckinItem {
  app: string;
  parsed: ParsedCheckin;
  /** Used for geolocation and rate limiting on the main thread, then dropped like any other. */
  clientIp: string;
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
  /** `items` is a JSON array of CheckinItem. */
  | { type: 'checkins'; seq: number; items: string }
  /** Each second, and in answer to a flush (with its id). */
  | { type: 'http-metrics'; samples: HttpSample[]; flushId?: number }
  | { type: 'error'; message: string };

export type ToThread =
  | ({ type: 'results'; seq: number } & CheckinResults)
  | { type: 'flush-metrics'; flushId: number }
  | { type: 'close'; graceMs: number };
