import { describe, expect, it } from 'vitest';
import { buildProbePlan, nextRoundDelay, peersForRound } from './probe-plan.ts';

const names = (n: number) => Array.from({ length: n }, (_, i) => `node-${i}`);

describe('probe plan', () => {
  it('probes every peer every round while the mesh fits in one round, never itself', () => {
    const plan = buildProbePlan('node-0', [...names(10), 'node-3'], 20);
    expect(plan.coverageRounds).toBe(1);
    expect(peersForRound(plan, 0)).toEqual(names(10).slice(1).sort());
    expect(peersForRound(plan, 7)).toEqual(peersForRound(plan, 0));
  });

  // The bound: with n peers, at most M per round and k = floor(M/2) fixed neighbours, every peer is
  // probed at least once in any ceil((n − k) / (M − k)) consecutive rounds.
  it.each([
    [21, 20],
    [100, 20],
    [1000, 20],
    [1000, 1],
    [57, 8],
  ])('covers all %i peers at %i per round within the stated bound', (n, max) => {
    const peers = names(n + 1).slice(1);
    const plan = buildProbePlan('node-0', peers, max);
    const k = Math.floor(max / 2);
    const bound = Math.ceil((n - k) / (max - k));
    expect(plan.coverageRounds).toBe(bound);
    for (const first of [0, 3, 1001]) {
      const seen = new Set<string>();
      for (let round = first; round < first + bound; round++) {
        const picked = peersForRound(plan, round);
        expect(picked.length).toBeLessThanOrEqual(max);
        expect(new Set(picked).size).toBe(picked.length);
        expect(picked).not.toContain('node-0');
        for (const peer of picked) seen.add(peer);
      }
      expect(seen.size).toBe(n);
    }
  });

  it('picks neighbours deterministically, different ones per node, stable when one member leaves', () => {
    const peers = names(200);
    const a = buildProbePlan('node-5', peers, 10);
    expect(buildProbePlan('node-5', [...peers].reverse(), 10).neighbours).toEqual(a.neighbours);
    expect(a.neighbours).toHaveLength(5);
    expect(buildProbePlan('node-6', peers, 10).neighbours).not.toEqual(a.neighbours);
    const gone = a.neighbours[0] as string;
    const after = buildProbePlan(
      'node-5',
      peers.filter((peer) => peer !== gone),
      10,
    );
    // Rendezvous hashing: the others stay, one new neighbour replaces the one that left.
    expect(after.neighbours.filter((peer) => a.neighbours.includes(peer))).toHaveLength(4);
  });

  it('spreads probes: every peer is some node’s neighbour about equally often', () => {
    const peers = names(100);
    const inbound = new Map<string, number>();
    for (const self of peers) {
      for (const peer of buildProbePlan(self, peers, 10).neighbours) inbound.set(peer, (inbound.get(peer) ?? 0) + 1);
    }
    const counts = peers.map((peer) => inbound.get(peer) ?? 0);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(500);
    expect(Math.max(...counts)).toBeLessThanOrEqual(14);
  });

  it('jitters each round start within the stated share of the interval', () => {
    expect(nextRoundDelay(1000, 0.1, () => 0)).toBe(900);
    expect(nextRoundDelay(1000, 0.1, () => 0.999999)).toBe(1100);
    expect(nextRoundDelay(1000, 0.1, () => 0.5)).toBe(1000);
    const delays = new Set(Array.from({ length: 50 }, () => nextRoundDelay(1000, 0.1)));
    expect(delays.size).toBeGreaterThan(10);
    for (const delay of delays) expect(delay).toBeGreaterThanOrEqual(900);
  });
});
