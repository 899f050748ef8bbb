import { checkForUpgrade } from './check.ts';
import { UpgradeCheckError } from './errors.ts';
import { validateCheckOptions } from './request.ts';
import { DEFAULT_REQUEST_INTERVAL_MINUTES } from './response.ts';
import type { UpgradeCheckOptions, UpgradeCheckResult } from './types.ts';

const FIRST_BACKOFF_MS = 30_000;
const MIN_INITIAL_DELAY_MS = 1_000;
const MAX_INITIAL_DELAY_MS = 10_000;
const INTERVAL_JITTER = 0.1;
const MINUTE_MS = 60_000;
// setTimeout fires at once for delays beyond a signed 32-bit integer, so longer waits are chained.
const MAX_TIMER_DELAY_MS = 2_147_483_647;

export interface UpgradeCheckerOptions extends UpgradeCheckOptions {
  /** Called after every successful check. */
  onResult(result: UpgradeCheckResult): void;
  /** Called after every failed check; the checker keeps going with backoff. */
  onError?(error: UpgradeCheckError): void;
  /** Delay before the first check. Default: random between 1 and 10 seconds. */
  initialDelayMs?: number;
  /** Source of jitter in [0, 1). Default `Math.random`. */
  random?: () => number;
  /** Use this interval instead of the server's `requestIntervalInMinutes`. */
  intervalOverrideMinutes?: number;
}

export interface UpgradeChecker {
  /** Cancels the pending timer and aborts a request in flight; no callback runs afterwards. */
  stop(): void;
  /** Checks at once (or joins the check in flight) and restarts the schedule from its outcome. */
  checkNow(): Promise<UpgradeCheckResult>;
}

/**
 * Checks for upgrades in the background: soon after start, then every interval the server asks for
 * with ±10 % jitter, backing off exponentially after failures. Passing `signal` stops it on abort.
 * Its timers do not keep a Node process alive.
 */
export function startUpgradeChecker(options: UpgradeCheckerOptions): UpgradeChecker {
  validateCheckOptions(options);
  if (typeof options.onResult !== 'function') throw new TypeError('Upgrade checker option "onResult" is required');
  const { intervalOverrideMinutes, initialDelayMs } = options;
  if (intervalOverrideMinutes !== undefined && !(intervalOverrideMinutes > 0 && intervalOverrideMinutes < Infinity)) {
    throw new TypeError('Upgrade checker option "intervalOverrideMinutes" must be a positive number');
  }
  if (initialDelayMs !== undefined && !(initialDelayMs >= 0)) {
    throw new TypeError('Upgrade checker option "initialDelayMs" must be zero or more');
  }
  const random = options.random ?? Math.random;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let inFlight: { controller: AbortController; promise: Promise<UpgradeCheckResult> } | undefined;
  let intervalMinutes = intervalOverrideMinutes ?? DEFAULT_REQUEST_INTERVAL_MINUTES;
  let consecutiveFailures = 0;

  const schedule = (delayMs: number): void => {
    clearTimeout(timer);
    const step = Math.min(delayMs, MAX_TIMER_DELAY_MS);
    timer = setTimeout(() => {
      timer = undefined;
      if (delayMs > step) schedule(delayMs - step);
      else begin().catch(() => {});
    }, step);
    // A background check should not be the reason a process stays up.
    (timer as { unref?: () => void }).unref?.();
  };

  const onSuccess = (result: UpgradeCheckResult): void => {
    consecutiveFailures = 0;
    intervalMinutes = intervalOverrideMinutes ?? result.requestIntervalInMinutes;
    const jitter = 1 - INTERVAL_JITTER + 2 * INTERVAL_JITTER * random();
    schedule(Math.max(intervalMinutes * MINUTE_MS * jitter, result.retryAfterMs ?? 0));
    deliver(options.onResult, result);
  };

  const onFailure = (error: UpgradeCheckError): void => {
    consecutiveFailures++;
    const backoff = Math.min(FIRST_BACKOFF_MS * 2 ** (consecutiveFailures - 1), intervalMinutes * MINUTE_MS);
    schedule(Math.max(backoff, error.retryAfterMs ?? 0));
    deliver(options.onError, error);
  };

  const run = async (controller: AbortController): Promise<UpgradeCheckResult> => {
    let result: UpgradeCheckResult;
    try {
      result = await checkForUpgrade({ ...options, signal: controller.signal });
    } catch (thrown) {
      // Cleared before callbacks run, so a callback calling checkNow() starts a fresh check.
      inFlight = undefined;
      const error =
        thrown instanceof UpgradeCheckError
          ? thrown
          : new UpgradeCheckError(`Upgrade check failed: ${String(thrown)}`, { kind: 'network', cause: thrown });
      if (!stopped) onFailure(error);
      throw error;
    }
    inFlight = undefined;
    if (!stopped) onSuccess(result);
    return result;
  };

  const begin = (): Promise<UpgradeCheckResult> => {
    if (stopped) {
      return Promise.reject(new UpgradeCheckError('The upgrade checker is stopped', { kind: 'aborted' }));
    }
    if (inFlight) return inFlight.promise;
    clearTimeout(timer);
    timer = undefined;
    const controller = new AbortController();
    inFlight = { controller, promise: run(controller) };
    return inFlight.promise;
  };

  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    clearTimeout(timer);
    timer = undefined;
    inFlight?.controller.abort();
    options.signal?.removeEventListener('abort', stop);
  };

  if (options.signal?.aborted) {
    stopped = true;
  } else {
    options.signal?.addEventListener('abort', stop, { once: true });
    schedule(initialDelayMs ?? MIN_INITIAL_DELAY_MS + (MAX_INITIAL_DELAY_MS - MIN_INITIAL_DELAY_MS) * random());
  }
  return { stop, checkNow: begin };
}

// Like an event listener, a throwing callback is reported without breaking the schedule.
function deliver<T>(callback: ((value: T) => void) | undefined, value: T): void {
  try {
    callback?.(value);
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}
