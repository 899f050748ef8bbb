import type { FaultSummary } from '@flotilla/protocol';

/** Reports of one crash loop, newest first. */
export interface FaultGroup {
  key: string;
  faults: FaultSummary[];
}

/** Two reports of the same kind this close together belong to one crash loop. */
export const groupGapMs = 30 * 60_000;

/**
 * Folds a newest-first list: reports of one service on one instance and environment, of one version
 * and reason, each within `gapMs` of the next, become one group, placed where its newest report was.
 */
export function groupFaults(list: FaultSummary[], gapMs = groupGapMs): FaultGroup[] {
  const groups: FaultGroup[] = [];
  const open = new Map<string, FaultGroup>();
  for (const f of list) {
    const kind = [f.environment, f.instanceId, f.service, f.version ?? '', f.reason].join('\u0000');
    const group = open.get(kind);
    const oldest = group?.faults.at(-1);
    if (group && oldest && Date.parse(oldest.time) - Date.parse(f.time) <= gapMs) {
      group.faults.push(f);
      continue;
    }
    const fresh = { key: f.id, faults: [f] };
    open.set(kind, fresh);
    groups.push(fresh);
  }
  return groups;
}
