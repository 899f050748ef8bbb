import type { Logger } from 'pino';
import { DomainError, statusByCode } from '../errors.ts';
import { errorBody } from './error-handler.ts';

/** An answer built without Fastify: status, JSON body text and extra headers. */
export interface ThreadAnswer {
  status: number;
  body: string;
  headers?: Record<string, string>;
}

/** Work shared by the requests of one batch: a credential or a lookup is resolved once per batch. */
export class BatchMemo {
  readonly #values = new Map<string, Promise<unknown>>();
  once<T>(key: string, make: () => Promise<T>): Promise<T> {
    let value = this.#values.get(key) as Promise<T> | undefined;
    if (!value) {
      value = make();
      this.#values.set(key, value);
    }
    return value;
  }
}

/**
 * A high-volume agent route that check-in threads read in full and hand to the main thread in
 * batches (no HTTP hop, no Fastify). The route's Fastify twin stays registered and answers the same.
 */
export interface ThreadRoute {
  /** Exact path (a trailing slash and a query string are ignored); POST only. */
  path: string;
  bodyLimit: number;
  handle(authorization: string, body: string, memo: BatchMemo): Promise<ThreadAnswer>;
}

/**
 * A long-poll agent route (GET) that check-in threads park themselves and hand over without a
 * socket: passed through, each waiting poll would hold three descriptors instead of one.
 */
export interface ThreadPollRoute {
  path: string;
  /** `query` is the raw query string; `gone` aborts when the client leaves. */
  handle(authorization: string, query: string, ifNoneMatch: string, gone: AbortSignal): Promise<ThreadAnswer>;
}

/** Filled while the HTTP app is built; the check-in threads learn the paths when they start. */
export class ThreadRoutes {
  readonly #routes = new Map<string, ThreadRoute>();
  readonly #polls = new Map<string, ThreadPollRoute>();
  add(route: ThreadRoute): void {
    this.#routes.set(route.path, route);
  }
  addPoll(route: ThreadPollRoute): void {
    this.#polls.set(route.path, route);
  }
  get(path: string): ThreadRoute | undefined {
    return this.#routes.get(path);
  }
  getPoll(path: string): ThreadPollRoute | undefined {
    return this.#polls.get(path);
  }
  listPolls(): string[] {
    return [...this.#polls.keys()];
  }
  list(): Array<{ path: string; bodyLimit: number }> {
    return [...this.#routes.values()].map(({ path, bodyLimit }) => ({ path, bodyLimit }));
  }
}

export const jsonAnswer = (status: number, value: unknown): ThreadAnswer => ({ status, body: JSON.stringify(value) });

/** The thread path's twin of the error handler: domain errors keep their status; others are 500 and logged. */
export function errorAnswer(err: unknown, logger: Logger): ThreadAnswer {
  if (err instanceof DomainError) {
    return {
      status: statusByCode[err.code],
      body: JSON.stringify(errorBody(err.code, err.message)),
      headers: err.headers,
    };
  }
  logger.error({ err }, 'request failed');
  return jsonAnswer(500, errorBody('internal', 'internal error; the server log has details'));
}

/** Fastify's answers to a JSON body it cannot parse, so both paths read the same to a client. */
export function parseJsonBody(text: string): { value: unknown } | { answer: ThreadAnswer } {
  if (text.length === 0) {
    return {
      answer: jsonAnswer(
        400,
        errorBody('invalid', "Body cannot be empty when content-type is set to 'application/json'"),
      ),
    };
  }
  try {
    return { value: JSON.parse(text) };
  } catch {
    return {
      answer: jsonAnswer(
        400,
        errorBody('invalid', "Body is not valid JSON but content-type is set to 'application/json'"),
      ),
    };
  }
}
