import { describe, expect, it } from 'vitest';
import type { PairSummary } from './contracts.ts';
import type { PhaseSample, ProbeResult } from './probe-types.ts';
import { createSummaryBook } from './summaries.ts';

const MINUTE = 60_000;
const T0 = 1_700_000_040_000; // a minute boundary

function clock(start = T0) {
  let t = start;
  return { now: () => t, set: (ms: number) => (t = ms) };
}

const result = (peer: string, at: number, samples: PhaseSample[], stalled = false): ProbeResult => ({
  peer,
  address: `${peer}:8081`,
  at,
  samples,
  stalled,
});
const request = (seconds?: number): PhaseSample =>
  seconds === undefined ? { phase: 'request', ok: false, error: 'timeout' } : { phase: 'request', ok: true, seconds };

describe('summary book', () => {
  it('turns a minute of results into per-phase summaries with percentiles, loss and jitter', () => {
    const time = clock();
    const book = createSummaryBook('eagle', { now: time.now });
    const rtts = [0.001, 0.003, 0.002, undefined, 0.004];
    rtts.forEach((rtt, i) => {
      book.add(result('duck', T0 + i * 1000, [request(rtt)]));
    });
    book.add(
      result('duck', T0 + 6000, [
        { phase: 'dns', ok: true, seconds: 0, literal: true },
        { phase: 'connect', ok: true, seconds: 0.0005 },
        { phase: 'tls', ok: false, error: 'ECONNRESET' },
      ]),
    );
    expect(book.pairs()).toEqual([]); // the minute is still open
    time.set(T0 + MINUTE + 10_000);
    const pairs = book.pairs();
    const byPhase = Object.fromEntries(pairs.map((s) => [s.phase, s]));
    expect(Object.keys(byPhase).sort()).toEqual(['connect', 'request', 'tls']); // no DNS for an IP literal
    expect(byPhase.request).toEqual({
      from: 'eagle',
      to: 'duck',
      phase: 'request',
      minute: T0,
      count: 5,
      failed: 1,
      min: 0.001,
      p50: 0.002,
      p99: 0.004,
      max: 0.004,
      // |3−1| + |2−3| + |4−2| over 3 consecutive pairs of successful round trips (ms).
      jitter: 0.001667,
    });
    expect(byPhase.tls).toEqual({ from: 'eagle', to: 'duck', phase: 'tls', minute: T0, count: 1, failed: 1 });
    expect(book.takeClosed()).toHaveLength(3);
    expect(book.takeClosed()).toHaveLength(0);
  });

  it('leaves results taken during a stall out of the summaries and counts them', () => {
    const time = clock();
    const book = createSummaryBook('eagle', { now: time.now });
    book.add(result('duck', T0, [request(0.001)]));
    book.add(result('duck', T0 + 1000, [request(0.25)], true));
    time.set(T0 + 2 * MINUTE);
    expect(book.pairs()[0]).toMatchObject({ count: 1, max: 0.001 });
    expect(book.stats().stalledDropped).toBe(1);
  });

  it('hands each peer only what changed since its last delta, bounded in count and bytes', () => {
    const time = clock();
    const book = createSummaryBook('eagle', { now: time.now, maxSummariesPerDelta: 4, maxDeltaBytes: 100_000 });
    for (let p = 0; p < 6; p++) book.add(result(`peer-${p}`, T0, [request(0.001)]));
    expect(book.deltaFor('duck')).toBeUndefined();
    time.set(T0 + MINUTE + 10_000);
    const first = book.deltaFor('duck');
    expect(first?.origin).toBe('eagle');
    expect(first?.summaries).toHaveLength(4);
    const second = book.deltaFor('duck');
    expect(second?.summaries).toHaveLength(2);
    expect((second?.seq ?? 0) > (first?.seq ?? 0)).toBe(true);
    expect(book.deltaFor('duck')).toBeUndefined();
    // Another peer starts from the beginning; a new minute sends only the keys that changed.
    expect(book.deltaFor('goose')?.summaries).toHaveLength(4);
    book.add(result('peer-1', T0 + MINUTE, [request(0.002)]));
    time.set(T0 + 2 * MINUTE + 10_000);
    expect(book.deltaFor('duck')?.summaries.map((s) => [s.to, s.minute])).toEqual([['peer-1', T0 + MINUTE]]);

    const small = createSummaryBook('eagle', { now: time.now, maxDeltaBytes: 300 });
    for (let p = 0; p < 10; p++) small.add(result(`peer-${p}`, T0 + 2 * MINUTE, [request(0.001)]));
    time.set(T0 + 3 * MINUTE + 10_000);
    const bounded = small.deltaFor('duck');
    expect(JSON.stringify(bounded?.summaries).length).toBeLessThanOrEqual(300);
    expect(bounded?.summaries.length).toBeGreaterThan(0);
    expect(bounded?.summaries.length).toBeLessThan(10);
  });

  it('keeps the latest summary per (from, to, phase) from the peer that sent it, and refuses the rest', () => {
    const time = clock(T0 + 2 * MINUTE);
    const book = createSummaryBook('eagle', { now: time.now, maxAgeMs: 10 * MINUTE });
    const good: PairSummary = {
      from: 'duck',
      to: 'goose',
      phase: 'request',
      minute: T0,
      count: 3,
      failed: 0,
      min: 0.001,
      p50: 0.001,
      p99: 0.002,
      max: 0.002,
      jitter: 0.0005,
    };
    expect(book.receive('duck', { origin: 'duck', seq: 1, summaries: [good] })).toEqual({ accepted: 1, rejected: 0 });
    const newer = { ...good, minute: T0 + MINUTE, p50: 0.0015 };
    const older = { ...good, minute: T0 - MINUTE, p50: 0.0019 };
    expect(book.receive('duck', { origin: 'duck', seq: 2, summaries: [newer, older] }).accepted).toBe(2);
    expect(book.pairs()).toEqual([newer]);

    // A node speaks only for itself, and only well-formed, recent summaries are kept.
    expect(book.receive('mallory', { origin: 'duck', seq: 3, summaries: [good] })).toEqual({
      accepted: 0,
      rejected: 1,
    });
    expect(book.receive('eagle', { origin: 'eagle', seq: 3, summaries: [] }).rejected).toBe(1);
    const bad = [
      { ...good, from: 'goose' },
      { ...good, to: 'duck' },
      { ...good, phase: 'icmp' },
      { ...good, minute: T0 + 1 },
      { ...good, minute: T0 - 20 * MINUTE },
      { ...good, minute: T0 + 10 * MINUTE },
      { ...good, failed: 4 },
      { ...good, count: 0 },
      { ...good, p50: Number.NaN },
      { ...good, min: 0.003 },
      { ...good, max: undefined },
      { ...good, jitter: -1 },
      { ...good, min: undefined, p50: undefined, p99: undefined, max: undefined, jitter: undefined },
      { ...good, to: 'x'.repeat(300) },
      null,
      'summary',
    ];
    expect(book.receive('duck', { origin: 'duck', seq: 4, summaries: bad })).toEqual({
      accepted: 0,
      rejected: bad.length,
    });
    expect(book.receive('duck', null).rejected).toBe(1);
    expect(book.receive('duck', { origin: 'duck', summaries: 'nope' }).rejected).toBe(1);
    expect(book.pairs()).toEqual([newer]);
    const allFailed = {
      ...good,
      to: 'swan',
      failed: 3,
      min: undefined,
      p50: undefined,
      p99: undefined,
      max: undefined,
      jitter: undefined,
    };
    const { min, p50, p99, max, jitter, ...stripped } = allFailed;
    expect(book.receive('duck', { origin: 'duck', seq: 5, summaries: [stripped] }).accepted).toBe(1);
    expect(book.stats().rejected).toBe(bad.length + 4);

    // Past the age cap everything received is dropped.
    time.set(T0 + 12 * MINUTE);
    expect(book.pairs()).toEqual([]);
  });

  it('keeps at most maxEntries received keys', () => {
    const time = clock(T0 + MINUTE);
    const book = createSummaryBook('eagle', { now: time.now, maxEntries: 2 });
    const summary = (to: string): PairSummary => ({
      from: 'duck',
      to,
      phase: 'connect',
      minute: T0,
      count: 1,
      failed: 1,
    });
    const answer = book.receive('duck', { origin: 'duck', seq: 1, summaries: ['a', 'b', 'c'].map(summary) });
    expect(answer).toEqual({ accepted: 2, rejected: 1 });
    expect(book.stats().entries).toBe(2);
  });
});
