import type { MeshNode, MeshPair } from '@flotilla/protocol';
import { describe, expect, it } from 'vitest';
import { cellText, formatLoss, formatRtt, legendSteps, matrixOf, pairKey, pairText, stepOf } from './mesh-api.ts';

const pair = (from: string, to: string, p50: number | null, loss = 0): MeshPair => ({
  from,
  to,
  count: 100,
  failed: Math.round(loss * 100),
  loss,
  p50,
  p99: p50 === null ? null : p50 * 2,
  min: p50,
  max: p50,
});
const node = (instance: string, partition: number, state: MeshNode['state'] = 'alive'): MeshNode => ({
  instance,
  address: `${instance}:7946`,
  state,
  lastSeenAt: '2026-01-01T00:00:00.000Z',
  certificateExpiresAt: null,
  eventLoopLag: null,
  partition,
  flagged: null,
});

describe('mesh page helpers', () => {
  it('writes round trips and loss as people read them', () => {
    expect([0.00042, 0.0042, 0.042, 1.234, null].map(formatRtt)).toEqual(['0.42 ms', '4.2 ms', '42 ms', '1.2 s', '—']);
    expect([0, 0.005, 0.083, 1].map(formatLoss)).toEqual(['0 %', '0.5 %', '8 %', '100 %']);
  });

  it('puts each pair on a colour step, failed pairs on their own, with a legend entry per step', () => {
    expect([0.0001, 0.0003, 0.0008, 0.0015, 0.003, 0.01, 0.5].map((s) => stepOf(pair('a', 'b', s), 'p50'))).toEqual([
      0, 1, 2, 3, 4, 5, 6,
    ]);
    expect(stepOf(pair('a', 'b', null, 1), 'p50')).toBe(7);
    expect([0, 0.005, 0.02, 0.1, 0.3, 0.6, 1].map((l) => stepOf(pair('a', 'b', 0.001, l), 'loss'))).toEqual([
      0, 1, 2, 3, 4, 5, 6,
    ]);
    expect(legendSteps('p50').map((s) => s.level)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(legendSteps('loss').map((s) => s.level)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(legendSteps('p50')[0]?.label).toBe('< 0.25 ms');
  });

  it('names a cell with the value it shows first, so sight and speech agree', () => {
    const slow = pair('a', 'b', 0.0042, 0.083);
    expect(cellText(slow, 'p50')).toBe('4.2');
    expect(pairText('a', 'b', slow)).toBe('a to b: p50 4.2 ms, p99 8.4 ms, loss 8 % of 100 probes');
    expect(cellText(slow, 'loss')).toBe('8%');
    expect(pairText('a', 'b', slow, 'loss')).toBe('a to b: loss 8% of 100 probes, p50 4.2 ms, p99 8.4 ms');
    expect(cellText(pair('a', 'b', 2.5), 'p50')).toBe('2.5s');
    expect(pairText('a', 'b', pair('a', 'b', 2.5))).toMatch(/^a to b: p50 2\.5s, /);
    expect(pairText('a', 'b', pair('a', 'b', null, 1))).toBe('a to b: every probe failed, loss 100 % of 100 probes');
    expect(pairText('a', 'b', undefined)).toBe('a to b: no measurements in the window');
  });

  it('orders the matrix by partition, then name; marks where partitions start; caps the nodes', () => {
    const view = {
      nodes: [
        node('b', 0),
        node('a', 0),
        node('z', 1),
        node('y', 1),
        node('dead', -1, 'dead'),
        node('odd', -1, 'stale'),
      ],
      pairs: [pair('a', 'b', 0.001), pair('z', 'y', 0.002), pair('dead', 'a', null, 1)],
      partitions: [
        ['a', 'b'],
        ['y', 'z'],
      ],
    };
    const m = matrixOf(view);
    // The dead node is kept because a listed pair names it; partitionless nodes come last.
    expect(m.nodes).toEqual(['a', 'b', 'y', 'z', 'dead', 'odd']);
    expect([...m.groupStarts]).toEqual([
      [0, 1],
      [2, 2],
    ]);
    expect(m.pairs.get(pairKey('z', 'y'))?.p50).toBe(0.002);
    expect(m.cut).toBe(0);
    // Beyond the cap, the nodes of the slowest pairs (listed first) stay.
    const capped = matrixOf(view, 3);
    expect(capped.nodes).toEqual(['a', 'b', 'z']);
    expect(capped.cut).toBe(3);
    // One partition: no group marks.
    expect(matrixOf({ ...view, partitions: [['a', 'b', 'y', 'z']] }).groupStarts.size).toBe(0);
  });
});
