// Sends the drift agent's subjects to the server (POST /api/v1/drift/reports): a complete report when
// they changed, debounced so a rollout is one report; otherwise a heartbeat every few minutes. One
// pending report at most (the latest wins); failures are retried with backoff, Retry-After obeyed.
import type { DriftReport, DriftSubjectReport } from '@flotilla/protocol';
import { driftReportLimits } from '@flotilla/protocol/drift-constants';
import { type HttpResponse, httpRequest } from '../runtime/http-request.ts';
import type { DriftLog } from './trackers.ts';

export interface ReporterOptions {
  /** Server base URL, e.g. https://flotilla.example. */
  server: string;
  /** An agent token: its environment is the cluster's. */
  token: string;
  agentId: string;
  tags?: Record<string, string>;
  /** Heartbeat period when nothing changed (default 5 min). */
  heartbeatMs?: number;
  /** Wait after a change before sending (default 750 ms: with the agent's 250 ms, about 1 s in all). */
  debounceMs?: number;
  /** First retry delay, doubling up to maxBackoffMs (defaults 1 s and 60 s). */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Per request (default 30 s). */
  timeoutMs?: number;
  log?: DriftLog;
}

export interface ReporterStats {
  reports: number;
  heartbeats: number;
  failures: number;
  /** Reports refused for good (400, 413) and dropped. */
  refused: number;
}

export interface DriftReporter {
  /** The current subjects; replaces any report not sent yet. */
  update(subjects: DriftSubjectReport[]): void;
  /** Sends what is pending now (one attempt each, up to timeoutMs), then stops sending heartbeats. */
  close(timeoutMs?: number): Promise<void>;
  readonly stats: ReporterStats;
}

class RefusedError extends Error {
  override name = 'RefusedError';
}
class RetryError extends Error {
  override name = 'RetryError';
  retryAfterMs: number | undefined;
  constructor(message: string, retryAfterMs: number | undefined) {
    super(message);
    this.retryAfterMs = retryAfterMs;
  }
}

function retryAfter(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(header);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

export function startReporter(options: ReporterOptions): DriftReporter {
  const url = `${options.server.replace(/\/+$/, '')}/api/v1/drift/reports`;
  const heartbeatMs = options.heartbeatMs ?? 5 * 60_000;
  const debounceMs = options.debounceMs ?? 750;
  const backoffMs = options.backoffMs ?? 1000;
  const maxBackoffMs = options.maxBackoffMs ?? 60_000;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const log: DriftLog = options.log ?? (() => {});
  const stats: ReporterStats = { reports: 0, heartbeats: 0, failures: 0, refused: 0 };
  let pending: DriftSubjectReport[] | undefined;
  let sending: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let failures = 0;
  let closed = false;
  let warnedCap = false;
  let debouncing = false;

  async function post(body: DriftReport, signal: AbortSignal): Promise<void> {
    let response: HttpResponse;
    let text = '';
    try {
      // The host agent's node:http client, not fetch(): fetch loads Node's own undici (+10 MB RSS).
      response = await httpRequest(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${options.token}` },
        json: body,
        signal,
      });
      text = (await response.bytes(64 * 1024).catch(() => Buffer.alloc(0))).toString('utf8');
    } catch (error) {
      const e = error as Error & { code?: string };
      throw new RetryError(`cannot reach ${url}: ${e.code ? `${e.code} ` : ''}${e.message}`, undefined);
    }
    if (response.ok) return;
    let message = text.slice(0, 300);
    try {
      message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? message;
    } catch {}
    const why = `HTTP ${response.status}${message ? `: ${message}` : ''}`;
    // A report the server refuses as invalid or too large will be refused again: drop it.
    if (response.status === 400 || response.status === 413 || response.status === 422) throw new RefusedError(why);
    throw new RetryError(why, retryAfter(response.header('retry-after')));
  }

  function body(subjects: DriftSubjectReport[] | undefined): DriftReport {
    const report: DriftReport = { agentId: options.agentId, ...(options.tags ? { tags: options.tags } : {}) };
    if (subjects === undefined) return report;
    const capped = subjects.slice(0, driftReportLimits.subjects);
    if (capped.length < subjects.length && !warnedCap) {
      warnedCap = true;
      log('warn', `${subjects.length} subjects, only the first ${capped.length} are reported (not marked complete)`);
    }
    return { ...report, subjects: capped, complete: capped.length === subjects.length };
  }

  /** One attempt: the pending report if any, else a heartbeat. */
  async function attempt(signal: AbortSignal): Promise<void> {
    const subjects = pending;
    pending = undefined;
    try {
      await post(body(subjects), signal);
      failures = 0;
      if (subjects) stats.reports++;
      else stats.heartbeats++;
    } catch (error) {
      stats.failures++;
      if (error instanceof RefusedError) {
        stats.refused++;
        log('error', `the server refused the drift report, dropped: ${error.message}`);
        return;
      }
      pending ??= subjects; // a newer report, if one came meanwhile, wins
      throw error;
    }
  }

  function arm(delayMs: number): void {
    clearTimeout(timer);
    if (closed) return;
    timer = setTimeout(run, delayMs);
  }

  function run(): void {
    timer = undefined;
    debouncing = false;
    if (sending || closed) return;
    sending = attempt(AbortSignal.timeout(timeoutMs))
      .then(
        () => arm(pending ? debounceMs : heartbeatMs),
        (error: unknown) => {
          const delay = Math.min(backoffMs * 2 ** failures++, maxBackoffMs);
          const wait = Math.max(delay, (error as RetryError).retryAfterMs ?? 0);
          log('warn', `drift report failed, retrying in ${Math.round(wait / 1000)} s: ${(error as Error).message}`);
          arm(wait);
        },
      )
      .finally(() => {
        sending = undefined;
      });
  }

  arm(heartbeatMs);
  return {
    stats,
    update(subjects) {
      if (closed) return;
      pending = subjects;
      // A change waits for the debounce (not restarted by later changes, so a steady stream of changes
      // still reports every debounceMs), and never cuts short a retry's backoff.
      if (!sending && failures === 0 && !debouncing) {
        arm(debounceMs);
        debouncing = true;
      }
    },
    async close(closeTimeoutMs = 10_000) {
      closed = true;
      clearTimeout(timer);
      const signal = AbortSignal.timeout(closeTimeoutMs);
      // A request in flight gets the same bound (its own timeout may be longer than the grace period).
      await Promise.race([sending, new Promise((resolve) => signal.addEventListener('abort', resolve))]);
      if (pending) {
        await attempt(signal).catch((error: unknown) => {
          log('error', `the last drift report was not delivered: ${(error as Error).message}`);
        });
      }
    },
  };
}
