import type { PairSummary } from './contracts.ts';
import type { ApiSample } from './mesh-api.ts';

// Per-minute pair summaries in canary-bot's sample shape. canary-bot's rtt_total (a new connection
// plus one request) is the sum of the phase medians; rtt_request is the request on a kept-alive connection.

const ns = (seconds: number | undefined) => (seconds === undefined ? 'NaN' : String(Math.round(seconds * 1e9)));

/** The API's samples: each pair's latest minute per phase, plus rtt_total and rtt_request; `skip` names nodes left out. */
export function apiSamples(summaries: readonly PairSummary[], skip?: ReadonlySet<string>): ApiSample[] {
  const latest = new Map<string, PairSummary>();
  for (const s of summaries) {
    if (skip?.has(s.from) || skip?.has(s.to)) continue;
    const key = `${s.from}\u0000${s.to}\u0000${s.phase}`;
    const seen = latest.get(key);
    if (!seen || seen.minute < s.minute) latest.set(key, s);
  }
  const out: ApiSample[] = [];
  const pairs = new Map<string, PairSummary[]>();
  for (const s of latest.values()) {
    out.push(sample(s, s.phase));
    const key = `${s.from}\u0000${s.to}`;
    pairs.set(key, [...(pairs.get(key) ?? []), s]);
  }
  for (const phases of pairs.values()) {
    const request = phases.find((s) => s.phase === 'request');
    if (!request) continue;
    out.push(sample(request, 'rtt_request'));
    const connect = phases.find((s) => s.phase === 'connect');
    if (!connect || connect.minute !== request.minute) continue;
    const parts = phases.filter((s) => s.minute === request.minute);
    const total = parts.every((s) => s.p50 !== undefined) ? parts.reduce((sum, s) => sum + (s.p50 ?? 0), 0) : undefined;
    // A sum of medians: no percentile of its own; its count is the fresh connections' count.
    out.push({ ...sample(connect, 'rtt_total'), value: ns(total), p99: undefined });
  }
  return out;
}

function sample(s: PairSummary, type: string): ApiSample {
  return {
    from: s.from,
    to: s.to,
    type,
    value: ns(s.p50),
    ts: new Date(s.minute + 60_000).toISOString(),
    count: s.count,
    failed: s.failed,
    p99: s.p99 === undefined ? undefined : ns(s.p99),
  };
}
