import type { FaultSummary } from '@flotilla/protocol';
import { describe, expect, it } from 'vitest';
import { groupFaults } from './fault-groups.ts';

const t0 = Date.parse('2026-03-01T23:30:00Z');
let n = 0;
const fault = (minutesAgo: number, patch: Partial<FaultSummary> = {}): FaultSummary => ({
  id: `f${++n}`,
  receivedAt: new Date(t0).toISOString(),
  time: new Date(t0 - minutesAgo * 60_000).toISOString(),
  environment: 'prod',
  instanceId: 'prod-host-01',
  service: 'web',
  version: '1.1.0',
  reason: 'exit',
  exitCode: 1,
  signal: null,
  size: 100,
  files: [],
  ...patch,
});

describe('grouping repeated faults', () => {
  it('folds a crash loop into one group and keeps other faults apart', () => {
    const loop = [0, 1, 2, 3, 5, 6, 8, 9].map((m) => fault(m));
    const rollback = fault(4, { reason: 'update-rolled-back', exitCode: null });
    const otherHost = fault(2, { instanceId: 'prod-host-02' });
    const list = [loop[0], loop[1], otherHost, loop[2], loop[3], rollback, ...loop.slice(4)] as FaultSummary[];
    const groups = groupFaults(list);
    expect(groups.map((g) => g.faults.length)).toEqual([8, 1, 1]);
    expect(groups[0]?.faults.map((f) => f.id)).toEqual(loop.map((f) => f.id));
    expect(groups[1]?.faults[0]?.id).toBe(otherHost.id);
    expect(groups[2]?.faults[0]?.id).toBe(rollback.id);
  });

  it('starts a new group after a long quiet spell', () => {
    const groups = groupFaults([fault(0), fault(10), fault(100), fault(110)]);
    expect(groups.map((g) => g.faults.length)).toEqual([2, 2]);
  });
});
