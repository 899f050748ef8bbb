import type { MemberState, MemberUpdate } from './contracts.ts';

// The member table of one node (self excluded) with O(1) random choice among live members and the
// shuffled round-robin probe order SWIM uses (every live member probed once per round).

export interface MemberRecord extends MemberUpdate {
  /** When the state last changed (clock ms), for reaping old tombstones. */
  since: number;
}

export const isLive = (state: MemberState): boolean => state === 'alive' || state === 'suspect';

export interface MemberTable {
  get(name: string): MemberRecord | undefined;
  /** Inserts or replaces a record; keeps the live index and probe order in step. */
  set(record: MemberRecord): void;
  delete(name: string): void;
  all(): IterableIterator<MemberRecord>;
  liveCount(): number;
  /** Up to `count` distinct live members chosen at random, none of them in `exclude`. */
  randomLive(count: number, exclude: ReadonlySet<string>): MemberRecord[];
  /** The next live member in probe order; undefined when there is none. */
  nextToProbe(): MemberRecord | undefined;
}

export function createMemberTable(random: () => number): MemberTable {
  const records = new Map<string, MemberRecord>();
  const live: string[] = [];
  const liveIndex = new Map<string, number>();
  let probeOrder: string[] = [];
  let probeAt = 0;

  const pick = (n: number): number => Math.min(n - 1, Math.floor(random() * n));

  const addLive = (name: string): void => {
    if (liveIndex.has(name)) return;
    liveIndex.set(name, live.length);
    live.push(name);
    // Memberlist-style: a new member goes to a random place in the current round.
    const at = probeAt + pick(probeOrder.length - probeAt + 1);
    probeOrder.splice(at, 0, name);
  };

  const removeLive = (name: string): void => {
    const index = liveIndex.get(name);
    if (index === undefined) return;
    const last = live.pop() as string;
    if (last !== name) {
      live[index] = last;
      liveIndex.set(last, index);
    }
    liveIndex.delete(name);
  };

  const set = (record: MemberRecord): void => {
    records.set(record.name, record);
    if (isLive(record.state)) addLive(record.name);
    else removeLive(record.name);
  };

  const reshuffle = (): void => {
    probeOrder = [...live];
    for (let i = probeOrder.length - 1; i > 0; i--) {
      const j = pick(i + 1);
      [probeOrder[i], probeOrder[j]] = [probeOrder[j] as string, probeOrder[i] as string];
    }
    probeAt = 0;
  };

  const nextToProbe = (): MemberRecord | undefined => {
    for (let pass = 0; pass < 2; pass++) {
      while (probeAt < probeOrder.length) {
        const record = records.get(probeOrder[probeAt++] as string);
        if (record && isLive(record.state)) return record;
      }
      reshuffle();
    }
    return undefined;
  };

  const randomLive = (count: number, exclude: ReadonlySet<string>): MemberRecord[] => {
    const chosen = new Map<string, MemberRecord>();
    const available = live.length - [...exclude].filter((name) => liveIndex.has(name)).length;
    const want = Math.min(count, available);
    // Rejection sampling: cheap while `want` is small against the live count (the usual case).
    for (let tries = 0; chosen.size < want && tries < want * 20; tries++) {
      const name = live[pick(live.length)] as string;
      if (!exclude.has(name) && !chosen.has(name)) chosen.set(name, records.get(name) as MemberRecord);
    }
    if (chosen.size < want) {
      for (const name of live) {
        if (chosen.size >= want) break;
        if (!exclude.has(name) && !chosen.has(name)) chosen.set(name, records.get(name) as MemberRecord);
      }
    }
    return [...chosen.values()];
  };

  return {
    get: (name) => records.get(name),
    set,
    delete: (name) => {
      removeLive(name);
      records.delete(name);
    },
    all: () => records.values(),
    liveCount: () => live.length,
    randomLive,
    nextToProbe,
  };
}
