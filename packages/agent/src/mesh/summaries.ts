import type { PairSummary, SummaryDelta } from './contracts.ts';
import type { ProbePhase, ProbeResult } from './probe-types.ts';
import { acceptSummary } from './summaries-validate.ts';

// A node's measurements as per-minute summaries per (peer, phase), and what other nodes sent of
// theirs. Receivers keep only the latest summary per (from, to, phase), so a sender owes each peer
// just the latest of each key it has not sent it yet: deltas stay bounded by the peers probed.

export interface SummaryBookOptions {
  /** Summaries (own and received) whose minute is older than this are dropped. Default 1 h. */
  maxAgeMs?: number;
  /** Bounds of one delta. Defaults 256 summaries, 32 KiB of JSON. */
  maxSummariesPerDelta?: number;
  maxDeltaBytes?: number;
  /** Wait after a minute ends before closing it, for probes still in flight. Default 10 s. */
  closeGraceMs?: number;
  /** Most (from, to, phase) entries kept from other nodes. Default 200,000. */
  maxEntries?: number;
  now?: () => number;
}

export interface SummaryBookStats {
  /** Probe results left out because the prober's loop stalled meanwhile. */
  stalledDropped: number;
  /** Received deltas or summaries refused (wrong origin, malformed, too old, store full). */
  rejected: number;
  entries: number;
}

export interface SummaryBook {
  /** Counts a probe result in its minute (stalled results are dropped and counted). */
  add(result: ProbeResult): void;
  /**
   * Own summaries changed since the last delta for `peer`, bounded; undefined when none. Handing one
   * out counts as sent: if that message is lost, the peer gets those keys with their next minute.
   */
  deltaFor(peer: string): SummaryDelta | undefined;
  /** Keeps what `sender` (the authenticated peer) sent of its own; anything else is refused. */
  receive(sender: string, delta: unknown): { accepted: number; rejected: number };
  /** Latest summary per (from, to, phase), own and received, within the age cap. */
  pairs(): PairSummary[];
  /** Own summaries closed since the last call (oldest first, at most 10,000 kept), e.g. for the server. */
  takeClosed(): PairSummary[];
  /** Drops the delta cursor of a peer that left. */
  forget(peer: string): void;
  stats(): SummaryBookStats;
}

interface Accumulator {
  to: string;
  phase: ProbePhase;
  minute: number;
  count: number;
  failed: number;
  values: number[];
  last?: number;
  jitterSum: number;
  jitterCount: number;
}

interface OwnEntry {
  summary: PairSummary;
  seq: number;
  bytes: number;
}

const MINUTE = 60_000;
const MAX_VALUES = 1000;
const MAX_CLOSED = 10_000;
const MAX_CURSORS = 10_000;
const round6 = (seconds: number) => Math.round(seconds * 1e6) / 1e6;

function nearestRank(sorted: number[], q: number): number {
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] as number;
}

export function summarize(from: string, acc: Accumulator): PairSummary {
  const summary: PairSummary = {
    from,
    to: acc.to,
    phase: acc.phase,
    minute: acc.minute,
    count: acc.count,
    failed: acc.failed,
  };
  if (acc.values.length > 0) {
    const sorted = [...acc.values].sort((a, b) => a - b);
    summary.min = round6(sorted[0] as number);
    summary.p50 = round6(nearestRank(sorted, 0.5));
    summary.p99 = round6(nearestRank(sorted, 0.99));
    summary.max = round6(sorted[sorted.length - 1] as number);
    if (acc.jitterCount > 0) summary.jitter = round6(acc.jitterSum / acc.jitterCount);
  }
  return summary;
}

export function createSummaryBook(self: string, options: SummaryBookOptions = {}): SummaryBook {
  const now = options.now ?? Date.now;
  const maxAgeMs = options.maxAgeMs ?? 3_600_000;
  const maxCount = options.maxSummariesPerDelta ?? 256;
  const maxBytes = options.maxDeltaBytes ?? 32 * 1024;
  const grace = options.closeGraceMs ?? 10_000;
  const maxEntries = options.maxEntries ?? 200_000;
  const open = new Map<string, Accumulator>();
  const latest = new Map<string, PairSummary>();
  // Own latest per key in seq order (an update moves its key to the end), so "not yet sent" is a suffix.
  const own = new Map<string, OwnEntry>();
  const cursors = new Map<string, number>();
  let closed: PairSummary[] = [];
  let seq = 0;
  let stalledDropped = 0;
  let rejected = 0;
  let lastPrune = 0;
  let lastAddTick = 0;

  const keyOf = (from: string, to: string, phase: string) => `${from}\0${to}\0${phase}`;

  function tick() {
    const at = now();
    for (const [key, acc] of open) {
      if (acc.minute + MINUTE + grace > at) continue;
      open.delete(key);
      const summary = summarize(self, acc);
      const latestKey = keyOf(self, acc.to, acc.phase);
      const previous = latest.get(latestKey);
      if (previous && previous.minute > summary.minute) continue;
      latest.set(latestKey, summary);
      own.delete(latestKey);
      own.set(latestKey, { summary, seq: ++seq, bytes: JSON.stringify(summary).length + 1 });
      closed.push(summary);
      if (closed.length > MAX_CLOSED) closed = closed.slice(-MAX_CLOSED);
    }
    if (at - lastPrune >= MINUTE / 6) {
      lastPrune = at;
      const oldest = at - maxAgeMs;
      for (const [key, summary] of latest) if (summary.minute < oldest) latest.delete(key);
      for (const [key, entry] of own) if (entry.summary.minute < oldest) own.delete(key);
    }
  }

  return {
    add(result) {
      if (result.stalled) {
        stalledDropped++;
        return;
      }
      const minute = Math.floor(result.at / MINUTE) * MINUTE;
      for (const sample of result.samples) {
        // DNS of an IP literal is no lookup at all: nothing to summarise.
        if (sample.phase === 'dns' && sample.literal) continue;
        const key = `${result.peer}\0${sample.phase}\0${minute}`;
        let acc = open.get(key);
        if (!acc) {
          acc = {
            to: result.peer,
            phase: sample.phase,
            minute,
            count: 0,
            failed: 0,
            values: [],
            jitterSum: 0,
            jitterCount: 0,
          };
          open.set(key, acc);
        }
        acc.count++;
        if (!sample.ok || sample.seconds === undefined) {
          acc.failed++;
          continue;
        }
        if (acc.values.length < MAX_VALUES) acc.values.push(sample.seconds);
        if (acc.last !== undefined) {
          acc.jitterSum += Math.abs(sample.seconds - acc.last);
          acc.jitterCount++;
        }
        acc.last = sample.seconds;
      }
      // Closing minutes scans every open accumulator: once a second is enough (a minute closes
      // `closeGraceMs` after its end anyway), not once per result.
      if (result.at - lastAddTick >= 1000 || result.at < lastAddTick) {
        lastAddTick = result.at;
        tick();
      }
    },

    deltaFor(peer) {
      tick();
      const cursor = cursors.get(peer) ?? 0;
      const summaries: PairSummary[] = [];
      let bytes = 0;
      let last = cursor;
      for (const entry of own.values()) {
        if (entry.seq <= cursor) continue;
        if (summaries.length >= maxCount || (summaries.length > 0 && bytes + entry.bytes > maxBytes)) break;
        summaries.push(entry.summary);
        bytes += entry.bytes;
        last = entry.seq;
      }
      if (summaries.length === 0) return undefined;
      cursors.delete(peer);
      cursors.set(peer, last);
      if (cursors.size > MAX_CURSORS) cursors.delete(cursors.keys().next().value as string);
      return { origin: self, seq: last, summaries };
    },

    receive(sender, delta) {
      const d = delta as Partial<SummaryDelta> | null;
      if (sender === self || !d || typeof d !== 'object' || d.origin !== sender || !Array.isArray(d.summaries)) {
        rejected++;
        return { accepted: 0, rejected: 1 };
      }
      const at = now();
      let accepted = 0;
      let refused = 0;
      for (const raw of d.summaries.slice(0, 4 * maxCount)) {
        const summary = acceptSummary(raw, sender, at, maxAgeMs);
        const key = summary && keyOf(summary.from, summary.to, summary.phase);
        const previous = key ? latest.get(key) : undefined;
        if (!summary || !key || (!previous && latest.size >= maxEntries)) {
          refused++;
          continue;
        }
        accepted++;
        if (
          !previous ||
          summary.minute > previous.minute ||
          (summary.minute === previous.minute && summary.count >= previous.count)
        ) {
          latest.set(key, summary);
        }
      }
      refused += Math.max(0, d.summaries.length - 4 * maxCount);
      rejected += refused;
      return { accepted, rejected: refused };
    },

    pairs() {
      tick();
      const oldest = now() - maxAgeMs;
      return [...latest.values()].filter((summary) => summary.minute >= oldest);
    },

    takeClosed() {
      tick();
      const taken = closed;
      closed = [];
      return taken;
    },

    forget(peer) {
      cursors.delete(peer);
    },

    stats: () => ({ stalledDropped, rejected, entries: latest.size }),
  };
}
