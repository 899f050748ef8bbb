import type { MemberUpdate } from './contracts.ts';

// Membership changes waiting to be piggybacked. Each is sent at most `limit` times; the least-sent go
// first and, among equals, the newest (LIFO), so a fresh change overtakes old retransmissions.

const KNOWN_BY_LIMIT = 16;

interface Entry {
  update: MemberUpdate;
  sent: number;
  stale: boolean;
  /** Peers that sent us this very update: they know it, so it is not sent back to them. */
  knownBy?: string[];
}

export interface BroadcastQueue {
  /** Queues a change; a newer change about the same member replaces the older one. */
  add(update: MemberUpdate): void;
  /** Up to `max` updates for one message to `peer`; each counts as sent once and goes after `limit` sends. */
  take(max: number, limit: number, peer: string): MemberUpdate[];
  /** `peer` sent us `update`: if it is the queued one, `peer` need not hear it from us. */
  heard(update: MemberUpdate, peer: string): void;
  size(): number;
}

export function createBroadcastQueue(): BroadcastQueue {
  const byName = new Map<string, Entry>();
  // buckets[i]: entries sent i times, oldest first; stale entries are skipped lazily.
  const buckets: Entry[][] = [];

  const bucket = (sent: number): Entry[] => {
    let list = buckets[sent];
    if (!list) {
      list = [];
      buckets[sent] = list;
    }
    return list;
  };

  const add = (update: MemberUpdate): void => {
    const previous = byName.get(update.name);
    if (previous) previous.stale = true;
    const entry: Entry = { update: { ...update }, sent: 0, stale: false };
    byName.set(update.name, entry);
    bucket(0).push(entry);
  };

  const drop = (entry: Entry): void => {
    entry.stale = true;
    byName.delete(entry.update.name);
  };

  const skip = (entry: Entry, peer: string): boolean =>
    entry.knownBy?.includes(peer) === true || (entry.update.name === peer && entry.update.state === 'alive');

  const take = (max: number, limit: number, peer: string): MemberUpdate[] => {
    const picked: Entry[] = [];
    // Skipped entries go back where they were; the scan is bounded so a message costs O(max).
    let budget = max * 4;
    for (let i = 0; i < buckets.length && picked.length < max && budget > 0; i++) {
      const bucket = buckets[i];
      if (!bucket) continue;
      const skipped: Entry[] = [];
      while (bucket.length > 0 && picked.length < max && budget-- > 0) {
        const entry = bucket.pop() as Entry;
        if (entry.stale) continue;
        if (entry.sent >= limit) {
          drop(entry);
          continue;
        }
        if (skip(entry, peer)) skipped.push(entry);
        else picked.push(entry);
      }
      for (let j = skipped.length - 1; j >= 0; j--) bucket.push(skipped[j] as Entry);
    }
    for (const entry of picked) {
      entry.sent += 1;
      if (entry.sent >= limit) drop(entry);
      else {
        bucket(entry.sent).push(entry);
      }
    }
    return picked.map((entry) => entry.update);
  };

  const heard = (update: MemberUpdate, peer: string): void => {
    const entry = byName.get(update.name);
    if (!entry || entry.update.incarnation !== update.incarnation || entry.update.state !== update.state) return;
    // Bounded: enough to skip most sends a peer does not need, without a set per queued change.
    entry.knownBy ??= [];
    if (entry.knownBy.length < KNOWN_BY_LIMIT) entry.knownBy.push(peer);
  };

  return { add, take, heard, size: () => byName.size };
}
