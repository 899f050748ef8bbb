import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startUpgradeChecker, type UpgradeChecker, type UpgradeCheckerOptions } from './checker.ts';
import { UpgradeCheckError } from './errors.ts';
import type { UpgradeCheckResult } from './types.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** A fetch that records the fake clock at each call and answers from a script, repeating the last entry. */
function scriptedFetch(script: Array<() => Response>) {
  const times: number[] = [];
  const fetchStub = (() => {
    times.push(Date.now());
    const answer = script[Math.min(times.length, script.length) - 1] as () => Response;
    return Promise.resolve(answer());
  }) as typeof fetch;
  return { times, fetchStub };
}

const ok =
  (requestIntervalInMinutes: number, headers: Record<string, string> = {}) =>
  () =>
    Response.json({ versions: [{ name: 'v2.0.0', tags: ['latest'] }], requestIntervalInMinutes }, { headers });
const failure =
  (status: number, headers: Record<string, string> = {}) =>
  () =>
    new Response('unavailable', { status, headers });

let start = 0;
let checker: UpgradeChecker | undefined;
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  vi.setSystemTime(new Date('2030-01-01T00:00:00Z'));
  start = Date.now();
});
afterEach(() => {
  checker?.stop();
  checker = undefined;
  vi.restoreAllMocks();
  vi.useRealTimers();
});

function startWith(fetchStub: typeof fetch, options: Partial<UpgradeCheckerOptions> = {}) {
  const onResult = vi.fn<(result: UpgradeCheckResult) => void>();
  const onError = vi.fn<(error: UpgradeCheckError) => void>();
  checker = startUpgradeChecker({
    url: 'http://upgrades.test',
    appVersion: 'v1.0.0',
    fetch: fetchStub,
    onResult,
    onError,
    ...options,
  });
  return { onResult, onError, checker };
}

/** Milliseconds from start to the first call, then between consecutive calls. */
function gaps(times: number[]): number[] {
  return times.map((time, index) => time - (index === 0 ? start : (times[index - 1] as number)));
}

describe('startUpgradeChecker schedule', () => {
  it('makes the first check after the jittered initial delay', async () => {
    const { times, fetchStub } = scriptedFetch([ok(60)]);
    const { onResult } = startWith(fetchStub, { random: () => 0.5 });
    await vi.advanceTimersByTimeAsync(5_499);
    expect(times).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(gaps(times)).toEqual([5_500]);
    expect(onResult).toHaveBeenCalledTimes(1);
    expect(onResult.mock.calls[0]?.[0].latest?.name).toBe('v2.0.0');
  });

  it('keeps the default initial delay between 1 and 10 seconds', async () => {
    const { times, fetchStub } = scriptedFetch([ok(60)]);
    startWith(fetchStub);
    await vi.advanceTimersByTimeAsync(999);
    expect(times).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(9_001);
    expect(times).toHaveLength(1);
  });

  it('honours an explicit initial delay of zero', async () => {
    const { times, fetchStub } = scriptedFetch([ok(60)]);
    startWith(fetchStub, { initialDelayMs: 0 });
    await vi.advanceTimersByTimeAsync(0);
    expect(gaps(times)).toEqual([0]);
  });

  it('repeats at the interval from the last answer, 10 % early at the lowest jitter', async () => {
    const { times, fetchStub } = scriptedFetch([ok(2), ok(3)]);
    startWith(fetchStub, { random: () => 0 });
    await vi.advanceTimersByTimeAsync(1_000 + 108_000 + 162_000 - 1);
    expect(gaps(times)).toEqual([1_000, 108_000]);
    await vi.advanceTimersByTimeAsync(1);
    expect(gaps(times)).toEqual([1_000, 108_000, 162_000]);
  });

  it('repeats at most 10 % late at the highest jitter', async () => {
    const { times, fetchStub } = scriptedFetch([ok(2)]);
    startWith(fetchStub, { random: () => 0.999_999, initialDelayMs: 0 });
    await vi.advanceTimersByTimeAsync(131_990);
    expect(times).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(10);
    expect(times).toHaveLength(2);
  });

  it('spreads real random intervals within ±10 %', async () => {
    const { times, fetchStub } = scriptedFetch([ok(2)]);
    startWith(fetchStub, { initialDelayMs: 0 });
    for (let cycle = 0; cycle < 30; cycle++) await vi.advanceTimersByTimeAsync(132_000);
    const intervals = gaps(times).slice(1);
    expect(intervals.length).toBeGreaterThanOrEqual(30);
    for (const interval of intervals) {
      expect(interval).toBeGreaterThanOrEqual(108_000);
      expect(interval).toBeLessThanOrEqual(132_000);
    }
    expect(new Set(intervals).size).toBeGreaterThan(1);
  });

  it('uses intervalOverrideMinutes instead of the server interval', async () => {
    const { times, fetchStub } = scriptedFetch([ok(60)]);
    startWith(fetchStub, { random: () => 0.5, initialDelayMs: 0, intervalOverrideMinutes: 1 });
    await vi.advanceTimersByTimeAsync(2 * MINUTE);
    expect(gaps(times)).toEqual([0, MINUTE, MINUTE]);
  });
});

describe('startUpgradeChecker errors', () => {
  it('backs off from 30 s, doubling up to one hour when the server never answered', async () => {
    const { times, fetchStub } = scriptedFetch([failure(500)]);
    const { onError, onResult } = startWith(fetchStub, { initialDelayMs: 0 });
    await vi.advanceTimersByTimeAsync(3_810_000 + 2 * HOUR);
    expect(gaps(times)).toEqual([0, 30_000, 60_000, 120_000, 240_000, 480_000, 960_000, 1_920_000, HOUR, HOUR]);
    expect(onResult).not.toHaveBeenCalled();
    expect(onError).toHaveBeenCalledTimes(10);
    expect(onError.mock.calls[0]?.[0]).toBeInstanceOf(UpgradeCheckError);
    expect(onError.mock.calls[0]?.[0].status).toBe(500);
  });

  it('caps backoff at the server interval and starts over after a success', async () => {
    const script = [ok(2), failure(500), failure(500), failure(500), failure(500), ok(2), failure(502)];
    const { times, fetchStub } = scriptedFetch(script);
    startWith(fetchStub, { random: () => 0.5, initialDelayMs: 0 });
    await vi.advanceTimersByTimeAsync(120_000 + 30_000 + 60_000 + 3 * 120_000 + 30_000);
    expect(gaps(times)).toEqual([0, 120_000, 30_000, 60_000, 120_000, 120_000, 120_000, 30_000]);
  });

  it('waits at least as long as Retry-After, after errors and after answers', async () => {
    const script = [
      failure(429, { 'Retry-After': '600' }),
      failure(503, { 'Retry-After': '10' }),
      ok(1, { 'Retry-After': '7200' }),
      ok(1),
    ];
    const { times, fetchStub } = scriptedFetch(script);
    startWith(fetchStub, { random: () => 0.5, initialDelayMs: 0 });
    await vi.advanceTimersByTimeAsync(600_000 + 60_000 + 7_200_000 - 1);
    expect(gaps(times)).toEqual([0, 600_000, 60_000]);
    await vi.advanceTimersByTimeAsync(1);
    expect(gaps(times)).toEqual([0, 600_000, 60_000, 7_200_000]);
  });

  it('keeps its schedule when a callback throws, and rethrows the error outside the checker', async () => {
    const { times, fetchStub } = scriptedFetch([ok(1)]);
    const rethrown: unknown[] = [];
    const queueForReal = globalThis.queueMicrotask;
    vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((task) =>
      queueForReal(() => {
        try {
          task();
        } catch (error) {
          rethrown.push(error);
        }
      }),
    );
    startWith(fetchStub, {
      random: () => 0.5,
      initialDelayMs: 0,
      onResult: () => {
        throw new Error('listener bug');
      },
    });
    await vi.advanceTimersByTimeAsync(MINUTE);
    expect(times).toHaveLength(2);
    expect(rethrown).toEqual([new Error('listener bug'), new Error('listener bug')]);
  });
});

describe('startUpgradeChecker control', () => {
  it('sends nothing after stop(), even when the first check was due', async () => {
    const { times, fetchStub } = scriptedFetch([ok(1)]);
    const { checker: started, onResult } = startWith(fetchStub, { initialDelayMs: 1_000 });
    started.stop();
    await vi.advanceTimersByTimeAsync(2 * HOUR);
    expect(times).toHaveLength(0);
    expect(onResult).not.toHaveBeenCalled();
    await expect(started.checkNow()).rejects.toMatchObject({ kind: 'aborted' });
  });

  it('checkNow() checks at once, shares a check in flight and restarts the schedule', async () => {
    const { times, fetchStub } = scriptedFetch([ok(10)]);
    const { checker: started, onResult } = startWith(fetchStub, { random: () => 0.5, initialDelayMs: 5_000 });
    await vi.advanceTimersByTimeAsync(1_000);
    const first = started.checkNow();
    const second = started.checkNow();
    expect(second).toBe(first);
    expect((await first).latest?.name).toBe('v2.0.0');
    expect(gaps(times)).toEqual([1_000]);
    expect(onResult).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(10 * MINUTE);
    expect(gaps(times)).toEqual([1_000, 10 * MINUTE]);
  });

  it('stops when its signal aborts, and never starts with an aborted one', async () => {
    const { times, fetchStub } = scriptedFetch([ok(1)]);
    const controller = new AbortController();
    startWith(fetchStub, { random: () => 0.5, initialDelayMs: 0, signal: controller.signal });
    await vi.advanceTimersByTimeAsync(0);
    controller.abort();
    startWith(fetchStub, { initialDelayMs: 0, signal: controller.signal });
    await vi.advanceTimersByTimeAsync(HOUR);
    expect(times).toHaveLength(1);
  });

  it('rejects invalid options at once', () => {
    const onResult = () => {};
    expect(() => startUpgradeChecker({ url: 'nope', appVersion: 'v1', onResult })).toThrow(TypeError);
    expect(() =>
      startUpgradeChecker({ url: 'http://h', appVersion: 'v1', onResult, intervalOverrideMinutes: 0 }),
    ).toThrow(/intervalOverrideMinutes/);
    expect(() => startUpgradeChecker({ url: 'http://h', appVersion: 'v1', onResult, initialDelayMs: -1 })).toThrow(
      /initialDelayMs/,
    );
  });
});
