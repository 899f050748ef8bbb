import { describe, expect, it } from 'vitest';
import { assignWave, assignWaves, bucketOf, instanceToAdmit, normalizeWaves, type WaveSpec } from './waves.ts';

const ids = Array.from({ length: 10_000 }, (_, i) => ({ instanceId: `host-${i}`, labels: {} }));

describe('wave assignment', () => {
  it('is deterministic for a seed and an id', () => {
    const waves = normalizeWaves([{ percent: 10 }, { percent: 50 }]);
    expect(bucketOf('s1', 'a')).toBe(bucketOf('s1', 'a'));
    expect(bucketOf('s1', 'a')).toBeGreaterThanOrEqual(0);
    expect(bucketOf('s1', 'a')).toBeLessThan(100);
    for (const inst of ids.slice(0, 50)) {
      expect(assignWave(waves, 'seed', inst)).toBe(assignWave(waves, 'seed', { ...inst }));
    }
  });

  it('spreads 10,000 instances cumulatively within ±5 % of each share', () => {
    const waves = normalizeWaves([{ percent: 10 }, { percent: 50 }, { percent: 100 }]);
    const groups = assignWaves(waves, 'a-seed', ids);
    const share = (i: number) => ((groups.get(i)?.length ?? 0) / ids.length) * 100;
    expect(Math.abs(share(0) - 10)).toBeLessThanOrEqual(5);
    expect(Math.abs(share(0) + share(1) - 50)).toBeLessThanOrEqual(5);
    expect(share(0) + share(1) + share(2)).toBe(100);
    // Tighter than the requirement, to catch a biased mapping.
    expect(Math.abs(share(0) - 10)).toBeLessThan(1.5);
  });

  it('gives different first waves for different seeds', () => {
    const waves = normalizeWaves([{ percent: 10 }]);
    const first = (seed: string) => new Set(assignWaves(waves, seed, ids).get(0));
    const a = first('seed-a');
    const b = first('seed-b');
    const both = [...a].filter((id) => b.has(id)).length;
    expect(a.size).toBeGreaterThan(0);
    // Independent 10 % samples overlap by about 10 %; equal sets would mean the seed is ignored.
    expect(both / a.size).toBeLessThan(0.3);
  });

  it('puts instances into the first selector wave whose labels all match', () => {
    const waves = normalizeWaves([{ selector: { region: 'eu', tier: 'canary' } }, { selector: { region: 'eu' } }]);
    expect(waves).toHaveLength(3);
    const at = (labels: Record<string, string>) => assignWave(waves, 's', { instanceId: 'x', labels });
    expect(at({ region: 'eu', tier: 'canary' })).toBe(0);
    expect(at({ region: 'eu', tier: 'main' })).toBe(1);
    expect(at({ region: 'us', tier: 'canary' })).toBe(2);
    expect(at({})).toBe(2);
  });

  it('mixes selectors and percentages: the first wave that admits wins', () => {
    const waves = normalizeWaves([{ selector: { canary: 'yes' } }, { percent: 30 }]);
    const groups = assignWaves(waves, 's', [
      { instanceId: 'c1', labels: { canary: 'yes' } },
      ...ids.slice(0, 1000).map((i) => ({ ...i, labels: { canary: 'no' } })),
    ]);
    expect(groups.get(0)).toEqual(['c1']);
    const second = (groups.get(1)?.length ?? 0) / 1000;
    expect(second).toBeGreaterThan(0.25);
    expect(second).toBeLessThan(0.35);
  });

  it('adds an implicit final 100 % wave only when needed', () => {
    expect(normalizeWaves([{ percent: 25 }])).toEqual([{ percent: 25 }, { percent: 100 }]);
    expect(normalizeWaves([{ percent: 25 }, { percent: 100 }])).toEqual([{ percent: 25 }, { percent: 100 }]);
    expect(normalizeWaves([{ selector: { a: 'b' } }])).toEqual([{ selector: { a: 'b' } }, { percent: 100 }]);
  });

  it.each<[string, WaveSpec[]]>([
    ['no waves', []],
    ['zero percent', [{ percent: 0 }]],
    ['over 100', [{ percent: 101 }]],
    ['not increasing', [{ percent: 50 }, { percent: 50 }]],
    ['decreasing', [{ percent: 50 }, { percent: 10 }]],
    ['100 before the end', [{ percent: 100 }, { selector: { a: 'b' } }]],
    ['empty selector', [{ selector: {} }]],
    ['NaN', [{ percent: Number.NaN }]],
    ['too many', Array.from({ length: 25 }, (_, i) => ({ percent: i + 1 }))],
  ])('refuses %s', (_name, waves) => {
    expect(() => normalizeWaves(waves)).toThrow();
  });
});

describe('instanceToAdmit', () => {
  const waves = normalizeWaves([{ percent: 10 }, { percent: 50 }, { percent: 100 }]);
  const fleet = (n: number) => ids.slice(0, n);
  // A seed that puts each of the first three hosts above 50 %, so no wave of them is its own.
  const seed = Array.from({ length: 500 }, (_, i) => `s-${i}`).find((s) =>
    fleet(3).every((inst) => bucketOf(s, inst.instanceId) >= 50),
  ) as string;

  it('takes the lowest bucket of the later waves into an empty percentage wave, one wave at a time', () => {
    for (const n of [1, 2, 3]) {
      const admitted: Record<string, number> = {};
      for (let wave = 0; wave < waves.length; wave++) {
        const id = instanceToAdmit(waves, seed, admitted, wave, fleet(n));
        if (id !== undefined) admitted[id] = wave;
      }
      const sizes = [...assignWaves(waves, seed, fleet(n), admitted).values()].map((g) => g.length);
      expect({ n, sizes }).toEqual({
        n,
        sizes: [
          [1, 0, 0],
          [1, 1, 0],
          [1, 1, 1],
        ][n - 1],
      });
      const byBucket = fleet(n)
        .map((i) => i.instanceId)
        .sort((a, b) => bucketOf(seed, a) - bucketOf(seed, b));
      // Cumulative: an instance nearer the front of the shuffle never waits longer than one behind it.
      const waveOf = (id: string) => assignWave(waves, seed, { instanceId: id, labels: {} }, admitted);
      for (let i = 1; i < byBucket.length; i++) {
        expect(waveOf(byBucket[i - 1] as string)).toBeLessThanOrEqual(waveOf(byBucket[i] as string));
      }
    }
  });

  it('leaves a wave alone when it has an instance of its own, and selector waves always', () => {
    const own = ids.slice(0, 200);
    expect(instanceToAdmit(waves, 'x', {}, 0, own)).toBeUndefined();
    const selector = normalizeWaves([{ selector: { ring: 'canary' } }, { percent: 100 }]);
    expect(instanceToAdmit(selector, 'x', {}, 0, fleet(1))).toBeUndefined();
    expect(instanceToAdmit(waves, 'x', {}, 0, [])).toBeUndefined();
  });

  it('only ever moves an instance to an earlier wave', () => {
    const inst = { instanceId: 'host-0', labels: {} };
    const own = assignWave(waves, seed, inst);
    expect(own).toBe(2);
    expect(assignWave(waves, seed, inst, { 'host-0': 0 })).toBe(0);
    expect(assignWave(waves, 'other', inst, { 'host-0': 2 })).toBeLessThanOrEqual(2);
  });
});
