import { UpgradeCheckError } from './errors.ts';
import {
  buildHeaders,
  buildRequestBody,
  DEFAULT_TAG,
  DEFAULT_TIMEOUT_MS,
  describeUrl,
  validateCheckOptions,
} from './request.ts';
import { type ParsedCheckUpgradeResponse, parseCheckUpgradeResponse, parseRetryAfter } from './response.ts';
import { chooseUpgrade, sortNewestFirst } from './select.ts';
import type { UpgradeCheckOptions, UpgradeCheckResult } from './types.ts';

// setTimeout fires at once for delays beyond a signed 32-bit integer.
const MAX_TIMER_DELAY_MS = 2_147_483_647;
const EXCERPT_LENGTH = 200;

interface Answer {
  text: string;
  retryAfterMs: number | undefined;
}

/**
 * Sends one check-upgrade request and tells whether a newer version can be installed.
 * Rejects with a TypeError for invalid options and with an UpgradeCheckError for everything else.
 */
export async function checkForUpgrade(options: UpgradeCheckOptions): Promise<UpgradeCheckResult> {
  const url = validateCheckOptions(options);
  const where = describeUrl(url);
  const answer = await exchange(url, options);
  const { retryAfterMs } = answer;
  let decoded: unknown;
  try {
    decoded = JSON.parse(answer.text);
  } catch (error) {
    throw new UpgradeCheckError(`Upgrade check to ${where} answered with invalid JSON: ${excerpt(answer.text)}`, {
      kind: 'invalid-json',
      status: 200,
      retryAfterMs,
      cause: error,
    });
  }
  let parsed: ParsedCheckUpgradeResponse;
  try {
    parsed = parseCheckUpgradeResponse(decoded);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new UpgradeCheckError(`Upgrade check to ${where} answered with an unexpected shape: ${detail}`, {
      kind: 'invalid-response',
      status: 200,
      retryAfterMs,
      cause: error,
    });
  }
  const versions = sortNewestFirst(parsed.versions);
  const choice = chooseUpgrade(versions, options.appVersion, options.tag === undefined ? DEFAULT_TAG : options.tag);
  const result: UpgradeCheckResult = {
    upgradeAvailable: choice.latest !== undefined,
    ...choice,
    versions,
    requestIntervalInMinutes: parsed.requestIntervalInMinutes,
  };
  if (retryAfterMs !== undefined) result.retryAfterMs = retryAfterMs;
  return result;
}

/** Posts the request and reads a 200 body, all under one timeout and the caller's signal. */
async function exchange(url: URL, options: UpgradeCheckOptions): Promise<Answer> {
  const where = describeUrl(url);
  const { signal } = options;
  if (signal?.aborted) throw abortedError(where, signal.reason);
  // Read into a local so a browser's fetch is not called as a method of the options object.
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  // Built first, so a header or body that cannot be sent fails as a TypeError, not as a network error.
  const headers = buildHeaders(options);
  const body = buildRequestBody(options);
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(
    () => {
      timedOut = true;
      controller.abort();
    },
    Math.min(timeoutMs, MAX_TIMER_DELAY_MS),
  );
  const forwardAbort = (): void => controller.abort(signal?.reason);
  signal?.addEventListener('abort', forwardAbort, { once: true });
  const transportError = (error: unknown): UpgradeCheckError => {
    if (timedOut) {
      return new UpgradeCheckError(`Upgrade check to ${where} timed out after ${timeoutMs} ms`, {
        kind: 'timeout',
        cause: error,
      });
    }
    if (signal?.aborted) return abortedError(where, error);
    return new UpgradeCheckError(`Upgrade check to ${where} failed: ${describeCause(error)}`, {
      kind: 'network',
      cause: error,
    });
  };
  try {
    let response: Response;
    try {
      response = await fetchImpl(url.href, { method: 'POST', headers, body, signal: controller.signal });
    } catch (error) {
      throw transportError(error);
    }
    const retryAfterMs = parseRetryAfter(response.headers.get('Retry-After'), Date.now());
    if (response.status !== 200) {
      // The body only adds detail to the message, so failing to read it is not an error of its own.
      const text = await response.text().catch(() => '');
      const statusText = response.statusText ? ` ${response.statusText}` : '';
      const quoted = text.trim() ? `: ${excerpt(text)}` : '';
      throw new UpgradeCheckError(
        `Upgrade check to ${where} answered HTTP ${response.status}${statusText}, expected 200${quoted}`,
        { kind: 'http-status', status: response.status, retryAfterMs },
      );
    }
    try {
      return { text: await response.text(), retryAfterMs };
    } catch (error) {
      throw transportError(error);
    }
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', forwardAbort);
  }
}

function abortedError(where: string, cause: unknown): UpgradeCheckError {
  return new UpgradeCheckError(`Upgrade check to ${where} was aborted`, { kind: 'aborted', cause });
}

function describeCause(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  // Node's fetch reports "fetch failed" and keeps the useful part (ECONNREFUSED, ...) in the cause.
  const inner = error.cause instanceof Error ? error.cause.message : '';
  return inner && inner !== error.message ? `${error.message} (${inner})` : error.message;
}

function excerpt(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  if (flat === '') return '(empty body)';
  return flat.length > EXCERPT_LENGTH ? `${flat.slice(0, EXCERPT_LENGTH)}…` : flat;
}
