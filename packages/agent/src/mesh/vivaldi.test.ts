import { describe, expect, it } from 'vitest';
import type { Coordinate } from './contracts.ts';
import { createVivaldi, estimate, isValidCoordinate, newCoordinate, slowPairs, type VivaldiNode } from './vivaldi.ts';

/** Small seeded generator (mulberry32) so the run is the same every time. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Hosts in three "sites" on a plane (seconds), each with an access-link height, plus ±5 % noise. */
function syntheticMesh(n: number, random: () => number) {
  const sites = [
    [0, 0],
    [0.03, 0.01],
    [0.012, 0.04],
  ];
  const hosts = Array.from({ length: n }, (_, i) => {
    const [x, y] = sites[i % sites.length] as number[];
    return { x: (x as number) + random() * 0.004, y: (y as number) + random() * 0.004, h: 0.0002 + random() * 0.001 };
  });
  const truth = (i: number, j: number) => {
    const a = hosts[i] as (typeof hosts)[number];
    const b = hosts[j] as (typeof hosts)[number];
    return Math.hypot(a.x - b.x, a.y - b.y) + a.h + b.h;
  };
  return { truth, measure: (i: number, j: number) => truth(i, j) * (0.95 + random() * 0.1) };
}

function medianRelativeError(nodes: VivaldiNode[], truth: (i: number, j: number) => number): number {
  const errors: number[] = [];
  for (let i = 0; i < nodes.length; i++) {
    for (let j = i + 1; j < nodes.length; j++) {
      const real = truth(i, j);
      const est = estimate((nodes[i] as VivaldiNode).coordinate(), (nodes[j] as VivaldiNode).coordinate());
      errors.push(Math.abs(est - real) / real);
    }
  }
  errors.sort((a, b) => a - b);
  return errors[Math.floor(errors.length / 2)] as number;
}

describe('vivaldi', () => {
  it('converges on a seeded synthetic latency matrix to a small median relative error', () => {
    const random = seeded(42);
    const n = 60;
    const { truth, measure } = syntheticMesh(n, random);
    const nodes = Array.from({ length: n }, () => createVivaldi({ random }));
    const before = medianRelativeError(nodes, truth);
    // Each node measures one random peer per round, as one probe per interval would.
    for (let round = 0; round < 400; round++) {
      for (let i = 0; i < n; i++) {
        let j = Math.floor(random() * (n - 1));
        if (j >= i) j++;
        const theirs = (nodes[j] as VivaldiNode).coordinate();
        expect((nodes[i] as VivaldiNode).observe(`n${j}`, measure(i, j), theirs)).toBe(true);
      }
    }
    const after = medianRelativeError(nodes, truth);
    expect(before).toBeGreaterThan(0.5);
    expect(after).toBeLessThan(0.05);
    // Errors settle too: a converged node is confident in its place.
    const errors = nodes.map((node) => node.coordinate().error).sort((a, b) => a - b);
    expect(errors[Math.floor(n / 2)]).toBeLessThan(0.2);
  });

  it('refuses invalid peer coordinates and round trips', () => {
    const node = createVivaldi({ random: seeded(1) });
    const good = newCoordinate();
    expect(node.observe('p', 0.001, { vec: [1, 2], height: 0, error: 1 })).toBe(false);
    expect(node.observe('p', 0.001, { ...good, vec: good.vec.map(() => Number.NaN) })).toBe(false);
    expect(node.observe('p', 0.001, { ...good, height: -1 })).toBe(false);
    expect(node.observe('p', 0.001, { ...good, vec: good.vec.map(() => 1e9) })).toBe(false);
    expect(node.observe('p', -1, good)).toBe(false);
    expect(node.observe('p', 11, good)).toBe(false);
    expect(node.coordinate()).toEqual(newCoordinate());
    expect(node.observe('p', 0.001, good)).toBe(true);
    expect(isValidCoordinate(node.coordinate())).toBe(true);
    expect(node.coordinate()).not.toEqual(newCoordinate());
  });

  it('flags a pair measured far above its estimate, not one near it', () => {
    const at = (x: number): Coordinate => ({ vec: [x, 0, 0, 0, 0, 0, 0, 0], height: 0.0001, error: 0.1 });
    const coords = new Map([
      ['a', at(0)],
      ['b', at(0.001)],
      ['c', at(0.002)],
    ]);
    const flagged = slowPairs(
      [
        { from: 'a', to: 'b', rtt: 0.0013 },
        { from: 'a', to: 'c', rtt: 0.05 },
        { from: 'b', to: 'c', rtt: 0.003 },
        { from: 'a', to: 'unknown', rtt: 1 },
      ],
      coords,
    );
    expect(flagged.map((pair) => `${pair.from}>${pair.to}`)).toEqual(['a>c']);
    expect(flagged[0]?.estimated).toBeCloseTo(0.0022, 6);
    expect(flagged[0]?.ratio).toBeGreaterThan(20);
  });
});
