// The agent's side of the agent API; every call has a timeout so a hung server never stalls the agent.
import type { AgentDesired, AgentLogBatch, AgentStateReport, SigningKey } from '@flotilla/protocol';
import { enrol, readCredential } from './enrolment.ts';
import { type HttpRequestOptions, type HttpResponse, httpRequest } from './http-request.ts';

export class ApiError extends Error {
  override name = 'ApiError';
  readonly status: number;
  /** Seconds the server asked to wait (`Retry-After` of a 429 or 503), if it said. */
  readonly retryAfter: number | undefined;
  constructor(status: number, message: string, retryAfter?: number) {
    super(message);
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

/** `Retry-After` in seconds (delta or HTTP date); undefined when absent or unreadable. */
export function retryAfterOf(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const seconds = /^\s*\d+\s*$/.test(header) ? Number(header) : (Date.parse(header) - now) / 1000;
  return Number.isFinite(seconds) ? Math.max(0, Math.ceil(seconds)) : undefined;
}

export type DesiredAnswer = { changed: true; desired: AgentDesired; etag: string | null } | { changed: false };

/** The largest error body read for its message. */
const maxErrorBodyBytes = 64 * 1024;

/** An `ApiError` with the server's `{"error":{"message"}}` when it sent one. */
export async function errorOf(res: HttpResponse, what: string): Promise<ApiError> {
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = await res.json<{ error?: { message?: string } }>(maxErrorBodyBytes);
    if (body.error?.message) message = `${res.status}: ${body.error.message}`;
  } catch {}
  return new ApiError(res.status, `${what}: ${message}`, retryAfterOf(res.header('retry-after')));
}

/** Where an enrolled agent keeps its identity: its directory and instance id. */
export interface Enrolment {
  dir: string;
  instanceId: string;
}

export class AgentApi {
  readonly url: string;
  readonly #agentToken: string;
  readonly #enrolment: Enrolment | undefined;
  #credential: string | null;
  #enrolling: Promise<string> | null = null;

  /** With `enrolment`, every call uses the instance credential, enrolling with `token` first if there is none. */
  constructor(url: string, token: string, enrolment?: Enrolment) {
    this.url = url;
    this.#agentToken = token;
    this.#enrolment = enrolment;
    this.#credential = enrolment ? readCredential(enrolment.dir) : token;
  }

  /** The bearer this agent's calls (and artifact downloads) use: the instance credential once enrolled. */
  get token(): string {
    return this.#credential ?? this.#agentToken;
  }

  /** Enrols once (concurrent callers share it); a failed attempt is retried by the next call. */
  async credential(signal?: AbortSignal): Promise<string> {
    if (this.#credential) return this.#credential;
    const enrolment = this.#enrolment as Enrolment;
    this.#enrolling ??= enrol(this.url, this.#agentToken, enrolment.dir, enrolment.instanceId, signal).finally(() => {
      this.#enrolling = null;
    });
    this.#credential = await this.#enrolling;
    return this.#credential;
  }

  async #headers(extra: Record<string, string> = {}, signal?: AbortSignal): Promise<Record<string, string>> {
    return { authorization: `Bearer ${await this.credential(signal)}`, ...extra };
  }

  async signingKey(signal?: AbortSignal): Promise<SigningKey> {
    const res = await httpRequest(`${this.url}/api/v1/signing-key`, withTimeout(signal, 10_000));
    if (!res.ok) throw await errorOf(res, 'signing key');
    return await res.json<SigningKey>();
  }

  /** Long-polls the desired list: `changed: false` when the ETag still matches after `waitSec`. */
  async desired(
    instanceId: string,
    etag: string | null,
    waitSec: number,
    signal?: AbortSignal,
  ): Promise<DesiredAnswer> {
    const query = new URLSearchParams({ instance: instanceId });
    if (etag && waitSec > 0) query.set('wait', `${waitSec}s`);
    const headers = await this.#headers(etag ? { 'if-none-match': etag } : {}, signal);
    const res = await httpRequest(`${this.url}/api/v1/agent/desired?${query}`, {
      headers,
      ...withTimeout(signal, (waitSec + 15) * 1000),
    });
    if (res.status === 304) {
      res.discard();
      return { changed: false };
    }
    if (!res.ok) throw await errorOf(res, 'desired versions');
    return { changed: true, desired: await res.json<AgentDesired>(), etag: res.header('etag') };
  }

  async reportState(report: AgentStateReport, signal?: AbortSignal): Promise<void> {
    const res = await this.#post('/api/v1/agent/state', { json: report }, 'application/json', 'state report', signal);
    res.discard();
  }

  async uploadLogs(batch: AgentLogBatch, signal?: AbortSignal): Promise<void> {
    const res = await this.#post('/api/v1/agent/logs', { json: batch }, 'application/json', 'log upload', signal);
    res.discard();
  }

  /** Streams the archive from disk, so a large crash file is never held in memory. */
  async uploadFault(archive: string, signal?: AbortSignal): Promise<string> {
    const res = await this.#post('/api/v1/agent/faults', { file: archive }, 'application/gzip', 'fault report', signal);
    return (await res.json<{ id: string }>()).id;
  }

  async #post(
    path: string,
    body: Pick<HttpRequestOptions, 'json' | 'file'>,
    type: string,
    what: string,
    signal?: AbortSignal,
  ): Promise<HttpResponse> {
    const res = await httpRequest(`${this.url}${path}`, {
      method: 'POST',
      headers: await this.#headers({ 'content-type': type }, signal),
      ...body,
      ...withTimeout(signal, 60_000),
    });
    if (!res.ok) throw await errorOf(res, what);
    return res;
  }
}

function withTimeout(signal: AbortSignal | undefined, ms: number): Pick<HttpRequestOptions, 'signal' | 'timeoutMs'> {
  return signal ? { signal, timeoutMs: ms } : { timeoutMs: ms };
}

/** Whether retrying can help: network failures and 5xx/429, not refusals like 401/403/400. */
export function isTransient(err: unknown): boolean {
  if (err instanceof ApiError) return err.status >= 500 || err.status === 429 || err.status === 408;
  return true;
}
