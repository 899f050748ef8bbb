import type { PairSummary } from './contracts.ts';

// A received summary is data from another node: every field is checked and copied, nothing else kept.

const PHASES = new Set(['dns', 'connect', 'tls', 'request']);
const MINUTE = 60_000;
/** Clocks may differ a little; a minute further ahead than this is refused. */
const MAX_AHEAD_MS = 2 * MINUTE;
const MAX_SECONDS = 3600;
const MAX_NAME = 253;

const isName = (value: unknown): value is string =>
  typeof value === 'string' && value.length > 0 && value.length <= MAX_NAME;
const isCount = (value: unknown): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 1_000_000;
const isSeconds = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= MAX_SECONDS;

/** The summary, copied, when it is well formed, from `origin`, and within the age window; else undefined. */
export function acceptSummary(raw: unknown, origin: string, now: number, maxAgeMs: number): PairSummary | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const s = raw as Record<string, unknown>;
  if (s.from !== origin || !isName(s.to) || s.to === origin || !PHASES.has(s.phase as string)) return undefined;
  if (typeof s.minute !== 'number' || !Number.isInteger(s.minute) || s.minute % MINUTE !== 0) return undefined;
  if (s.minute < now - maxAgeMs || s.minute > now + MAX_AHEAD_MS) return undefined;
  if (!isCount(s.count) || s.count === 0 || !isCount(s.failed) || s.failed > s.count) return undefined;
  const summary: PairSummary = {
    from: origin,
    to: s.to,
    phase: s.phase as PairSummary['phase'],
    minute: s.minute,
    count: s.count,
    failed: s.failed,
  };
  const timed = ['min', 'p50', 'p99', 'max'] as const;
  const present = timed.filter((field) => s[field] !== undefined);
  if (present.length > 0) {
    // Either all four timings or none (every probe failed), and in order.
    if (present.length !== timed.length || s.failed === s.count) return undefined;
    const values = timed.map((field) => s[field]);
    if (!values.every(isSeconds)) return undefined;
    const [min, p50, p99, max] = values as number[];
    if (
      !((min as number) <= (p50 as number) && (p50 as number) <= (p99 as number) && (p99 as number) <= (max as number))
    ) {
      return undefined;
    }
    summary.min = min as number;
    summary.p50 = p50 as number;
    summary.p99 = p99 as number;
    summary.max = max as number;
  } else if (s.failed !== s.count) {
    return undefined;
  }
  if (s.jitter !== undefined) {
    if (!isSeconds(s.jitter) || present.length === 0) return undefined;
    summary.jitter = s.jitter;
  }
  return summary;
}
