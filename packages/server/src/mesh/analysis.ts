import type { MeshNodeState } from '@flotilla/protocol';
import type { PairAggregate } from './store.ts';

// What the server concludes from the summaries: node states, partitions (connected components over
// pairs that had successful probes recently) and nodes most of whose peers cannot reach them.

export function nodeState(lastSeen: number, now: number, aliveMs: number, deadMs: number): MeshNodeState {
  const silent = now - lastSeen;
  if (silent <= aliveMs) return 'alive';
  return silent <= deadMs ? 'stale' : 'dead';
}

export interface PairTotals {
  count: number;
  failed: number;
}

const pairKey = (from: string, to: string) => `${from}\u0000${to}`;

/**
 * Per (from, to): the phase with the most probes (each probe starts with its first phase, so that one
 * counts every attempt), summed over the phases' minutes.
 */
export function pairTotals(aggregates: PairAggregate[]): Map<string, PairTotals & { from: string; to: string }> {
  const out = new Map<string, PairTotals & { from: string; to: string }>();
  for (const a of aggregates) {
    const key = pairKey(a.from, a.to);
    const seen = out.get(key);
    if (!seen || a.count > seen.count) out.set(key, { from: a.from, to: a.to, count: a.count, failed: a.failed });
  }
  return out;
}

/** Connected components of `nodes`, joined by pairs (either way) with at least one successful probe; largest first. */
export function partitionsOf(nodes: string[], totals: Iterable<PairTotals & { from: string; to: string }>): string[][] {
  const parent = new Map(nodes.map((n) => [n, n]));
  const find = (n: string): string => {
    let root = n;
    while (parent.get(root) !== root) root = parent.get(root) as string;
    for (let at = n; at !== root; ) {
      const next = parent.get(at) as string;
      parent.set(at, root);
      at = next;
    }
    return root;
  };
  for (const t of totals) {
    if (t.count <= t.failed || !parent.has(t.from) || !parent.has(t.to)) continue;
    const [a, b] = [find(t.from), find(t.to)];
    if (a !== b) parent.set(a < b ? b : a, a < b ? a : b);
  }
  const groups = new Map<string, string[]>();
  for (const n of nodes) {
    const root = find(n);
    const group = groups.get(root) ?? [];
    group.push(n);
    groups.set(root, group);
  }
  return [...groups.values()]
    .map((g) => g.sort())
    .sort((a, b) => b.length - a.length || (a[0] as string).localeCompare(b[0] as string));
}

/** A pair losing at least this share of its probes counts as unreachable. */
export const unreachableLoss = 0.5;

/**
 * Nodes that most of the live peers probing them cannot reach (at least 2 peers, more than half with
 * loss ≥ 50 %), with the reason shown to people.
 */
export function flagUnreachable(
  nodes: string[],
  totals: Iterable<PairTotals & { from: string; to: string }>,
): Map<string, string> {
  const live = new Set(nodes);
  const probedBy = new Map<string, { peers: number; down: number }>();
  for (const t of totals) {
    if (t.count === 0 || t.from === t.to || !live.has(t.from) || !live.has(t.to)) continue;
    const seen = probedBy.get(t.to) ?? { peers: 0, down: 0 };
    seen.peers++;
    if (t.failed / t.count >= unreachableLoss) seen.down++;
    probedBy.set(t.to, seen);
  }
  const flagged = new Map<string, string>();
  for (const [node, { peers, down }] of probedBy) {
    if (peers >= 2 && down * 2 > peers) flagged.set(node, `unreachable from ${down} of ${peers} peers`);
  }
  return flagged;
}
