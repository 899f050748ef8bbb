export interface InfluxClientOptions {
  /** Base URL, e.g. `http://127.0.0.1:8086` (a path prefix is kept). */
  url: string;
  user?: string;
  pass?: string;
  /** Per-request timeout; default 10 s. */
  timeoutMs?: number;
}

export interface InfluxSeries {
  name?: string;
  tags?: Record<string, string>;
  columns: string[];
  values?: unknown[][];
}

export interface InfluxStatementResult {
  statement_id: number;
  series?: InfluxSeries[];
  error?: string;
}

export interface InfluxClient {
  /** Runs InfluxQL; throws an {@link InfluxError} when the request or any statement fails. */
  query(q: string, db?: string, signal?: AbortSignal): Promise<InfluxStatementResult[]>;
  /** Writes lines with nanosecond timestamps. */
  write(db: string, lines: readonly string[], signal?: AbortSignal): Promise<void>;
}

export interface InfluxErrorDetails {
  /** HTTP status, absent for network errors and timeouts. */
  status?: number;
  /** Worth trying again later: network error, timeout, 5xx, 408, 429. */
  retryable: boolean;
  /** For InfluxDB's "partial write" answers: how many points it dropped (the rest were stored). */
  droppedPoints?: number;
  cause?: unknown;
}

export class InfluxError extends Error {
  readonly status: number | undefined;
  readonly retryable: boolean;
  readonly droppedPoints: number | undefined;

  constructor(message: string, details: InfluxErrorDetails) {
    super(message, { cause: details.cause });
    this.name = 'InfluxError';
    this.status = details.status;
    this.retryable = details.retryable;
    this.droppedPoints = details.droppedPoints;
  }

  /** InfluxDB answers 404 "database not found" to writes into a database that does not exist. */
  get databaseNotFound(): boolean {
    return this.status === 404 && this.message.includes('database not found');
  }
}

const DEFAULT_TIMEOUT_MS = 10_000;

export function createInfluxClient(options: InfluxClientOptions): InfluxClient {
  // fetch refuses URLs with credentials in them; move them into the Authorization header.
  const base = new URL(options.url.endsWith('/') ? options.url : `${options.url}/`);
  const user = options.user || decodeURIComponent(base.username);
  const pass = options.user ? (options.pass ?? '') : decodeURIComponent(base.password);
  base.username = '';
  base.password = '';
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const headers: Record<string, string> = {};
  if (user !== '') headers.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

  async function request(what: string, path: string, body: string, type: string, signal?: AbortSignal) {
    const timeout = AbortSignal.timeout(timeoutMs);
    let response: Response;
    let text: string;
    try {
      response = await fetch(new URL(path, base), {
        method: 'POST',
        headers: { ...headers, 'content-type': type },
        body,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      text = await response.text();
    } catch (err) {
      throw networkError(what, err, signal?.aborted === true, timeout.aborted, timeoutMs);
    }
    if (!response.ok) throw httpError(what, response, text);
    return text;
  }

  return {
    async query(q, db, signal) {
      const form = new URLSearchParams({ q });
      if (db !== undefined) form.set('db', db);
      const text = await request('query', 'query', form.toString(), 'application/x-www-form-urlencoded', signal);
      let parsed: { results?: InfluxStatementResult[]; error?: string };
      try {
        parsed = JSON.parse(text) as typeof parsed;
      } catch (err) {
        throw new InfluxError(`InfluxDB query: unreadable answer: ${text.slice(0, 200)}`, {
          retryable: true,
          cause: err,
        });
      }
      if (parsed.error) throw new InfluxError(`InfluxDB query failed: ${parsed.error}`, { retryable: false });
      const results = parsed.results ?? [];
      for (const r of results) {
        if (r.error) {
          throw new InfluxError(`InfluxDB query failed: ${r.error} (statement ${r.statement_id}: ${q.slice(0, 300)})`, {
            status: 200,
            retryable: false,
          });
        }
      }
      return results;
    },

    async write(db, lines, signal) {
      const path = `write?${new URLSearchParams({ db, precision: 'ns' })}`;
      await request(`write to ${db}`, path, lines.join('\n'), 'text/plain; charset=utf-8', signal);
    },
  };
}

function networkError(what: string, err: unknown, aborted: boolean, timedOut: boolean, timeoutMs: number) {
  // The caller gave up (shutting down): retrying would go against its wish.
  if (aborted) return new InfluxError(`InfluxDB ${what}: aborted`, { retryable: false, cause: err });
  if (timedOut)
    return new InfluxError(`InfluxDB ${what}: no answer within ${timeoutMs} ms`, { retryable: true, cause: err });
  // fetch reports "fetch failed"; the useful part (ECONNREFUSED, ENOTFOUND…) is in the cause.
  const cause = err instanceof Error ? err.cause : undefined;
  const detail = cause instanceof Error ? cause.message : err instanceof Error ? err.message : String(err);
  return new InfluxError(`InfluxDB ${what}: ${detail}`, { retryable: true, cause: err });
}

function httpError(what: string, response: Response, text: string): InfluxError {
  let message = response.headers.get('x-influxdb-error') ?? '';
  if (message === '') {
    try {
      message = (JSON.parse(text) as { error?: string }).error ?? text;
    } catch {
      message = text;
    }
  }
  message = message.trim().slice(0, 1000) || response.statusText;
  const status = response.status;
  const retryable = status >= 500 || status === 408 || status === 429;
  const dropped = /^partial write:.*dropped=(\d+)/s.exec(message);
  return new InfluxError(`InfluxDB ${what}: HTTP ${status}: ${message}`, {
    status,
    retryable,
    ...(dropped ? { droppedPoints: Number(dropped[1]) } : {}),
  });
}
