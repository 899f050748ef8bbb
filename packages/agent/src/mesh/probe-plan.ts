import { createHash } from 'node:crypto';

// Which peers a node probes each round. Small meshes: all of them. Larger: a fixed neighbour set
// (rendezvous hashing, so it barely moves when members come and go) plus a window that rotates through
// everyone else, so every peer is probed within `coverageRounds` rounds while membership is stable.

export interface ProbePlan {
  /** Probed every round. */
  neighbours: string[];
  /** Everyone else, in this node's fixed order; `rotating(round)` takes a window of it. */
  others: string[];
  /** Slots per round for the rotating window. */
  windowSize: number;
  /** Rounds within which every peer is probed at least once: ceil(others / windowSize), at least 1. */
  coverageRounds: number;
}

function score(self: string, peer: string): string {
  return createHash('sha256').update(self).update('\0').update(peer).digest('hex');
}

/** Builds the plan for `self` over `peers` (names; self and duplicates are ignored). */
export function buildProbePlan(self: string, peers: readonly string[], maxPeersPerRound: number): ProbePlan {
  const max = Math.max(1, Math.floor(maxPeersPerRound));
  const unique = [...new Set(peers)].filter((peer) => peer !== self);
  if (unique.length <= max) {
    return { neighbours: unique.sort(), others: [], windowSize: 0, coverageRounds: 1 };
  }
  // Highest rendezvous score first: each node picks its own neighbours, spread evenly over the mesh.
  const ranked = unique
    .map((peer) => ({ peer, score: score(self, peer) }))
    .sort((a, b) => (a.score < b.score ? 1 : -1));
  const neighbourCount = Math.floor(max / 2);
  const windowSize = max - neighbourCount;
  const neighbours = ranked.slice(0, neighbourCount).map((entry) => entry.peer);
  const others = ranked.slice(neighbourCount).map((entry) => entry.peer);
  return { neighbours, others, windowSize, coverageRounds: Math.ceil(others.length / windowSize) };
}

/** The peers to probe in round `round` (any integer ≥ 0): the neighbours and the round's window. */
export function peersForRound(plan: ProbePlan, round: number): string[] {
  if (plan.others.length === 0) return [...plan.neighbours];
  // Window k covers others[k·w … k·w + w) wrapping around, so consecutive rounds tile the list.
  const start = ((round % plan.coverageRounds) * plan.windowSize) % plan.others.length;
  const window: string[] = [];
  for (let i = 0; i < Math.min(plan.windowSize, plan.others.length); i++) {
    window.push(plan.others[(start + i) % plan.others.length] as string);
  }
  return [...plan.neighbours, ...window];
}

/** Delay before the next round: the interval moved by up to ±`jitter` of itself, so nodes do not synchronise. */
export function nextRoundDelay(intervalMs: number, jitter: number, random: () => number = Math.random): number {
  const spread = Math.min(Math.max(jitter, 0), 0.5);
  return Math.max(1, Math.round(intervalMs * (1 + spread * (2 * random() - 1))));
}
