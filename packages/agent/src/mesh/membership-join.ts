import type { MemberUpdate, MeshClock, MeshMessage, SendMessage } from './contracts.ts';
import { isLive, type MemberRecord, type MemberTable } from './membership-table.ts';

/** Most members in one join-reply; above it a random sample is sent and the rest arrives by probes... */
export const JOIN_REPLY_LIMIT = 1024;
/** ...and at most about this many bytes of them (the transport takes messages up to 256 KiB). */
export const JOIN_REPLY_MAX_BYTES = 192 * 1024;
/** Join retries back off from one probe interval, doubling after each pass over the targets, up to this. */
export const JOIN_MAX_BACKOFF_MS = 30_000;

type JoinReply = Extract<MeshMessage, { kind: 'join-reply' }>;

export const publicUpdate = (record: MemberUpdate): MemberUpdate => ({
  name: record.name,
  address: record.address,
  incarnation: record.incarnation,
  state: record.state,
});

export interface Joiner {
  join(targets: string[]): void;
  /** True once a target has accepted us. */
  joined(): boolean;
  /** Handles a join-reply; returns the refusal reason when it refuses a join still in progress. */
  reply(message: JoinReply): string | undefined;
  stop(): void;
}

/** The joining side: targets in order, each pass slower (capped exponential backoff with ±50 % jitter). */
export function createJoiner(options: {
  clock: MeshClock;
  random: () => number;
  send: SendMessage;
  self: () => MemberUpdate;
  baseDelayMs: number;
}): Joiner {
  let targets: string[] = [];
  let accepted = false;
  let timer: unknown;
  let attempt = 0;

  const clear = (): void => {
    if (timer !== undefined) options.clock.clearTimeout(timer);
    timer = undefined;
  };

  const next = (): void => {
    timer = undefined;
    if (accepted || targets.length === 0) return;
    const target = targets[attempt % targets.length] as string;
    const pass = Math.floor(attempt / targets.length);
    attempt += 1;
    options.send(target, { kind: 'join', from: options.self() });
    const delay = Math.min(JOIN_MAX_BACKOFF_MS, options.baseDelayMs * 2 ** Math.min(pass, 20));
    timer = options.clock.setTimeout(next, delay * (0.5 + options.random()));
  };

  return {
    join(list) {
      clear();
      targets = list.filter((target) => typeof target === 'string' && target.length > 0);
      accepted = false;
      attempt = 0;
      next();
    },
    joined: () => accepted,
    reply(message) {
      if (accepted || targets.length === 0) return undefined;
      if (!message.accepted) {
        clear();
        targets = [];
        return message.reason ?? `join refused by ${message.from}`;
      }
      accepted = true;
      clear();
      return undefined;
    },
    stop: clear,
  };
}

/**
 * The receiving side's decision. A name held by a live member at another address is refused, naming
 * the holder; anything else is accepted. `before` is the joiner's record as this node held it, sent
 * back so a restarted joiner sees itself dead or suspect and refutes with a higher incarnation.
 */
export function decideJoin(
  self: MemberUpdate,
  table: MemberTable,
  joiner: MemberUpdate,
): { accepted: false; reason: string } | { accepted: true; before: MemberRecord | undefined } {
  if (joiner.name === self.name) {
    return { accepted: false, reason: `name "${joiner.name}" is already held by ${self.address}` };
  }
  const before = table.get(joiner.name);
  if (before && isLive(before.state) && before.address !== joiner.address) {
    return { accepted: false, reason: `name "${joiner.name}" is already held by ${before.address}` };
  }
  return { accepted: true, before };
}

/** The members sent in a join-reply: self, the joiner's old record, then the rest (sampled above the limit). */
export function replyMembers(
  self: MemberUpdate,
  table: MemberTable,
  joiner: string,
  before: MemberRecord | undefined,
  random: () => number,
): MemberUpdate[] {
  const head = [self, ...(before ? [publicUpdate(before)] : [])];
  const rest: MemberUpdate[] = [];
  for (const record of table.all()) if (record.name !== joiner) rest.push(publicUpdate(record));
  const room = JOIN_REPLY_LIMIT - head.length;
  if (rest.length > room) {
    // Partial Fisher-Yates: the first `room` entries become a uniform sample.
    for (let i = 0; i < room; i++) {
      const j = i + Math.min(rest.length - i - 1, Math.floor(random() * (rest.length - i)));
      [rest[i], rest[j]] = [rest[j] as MemberUpdate, rest[i] as MemberUpdate];
    }
    rest.length = room;
  }
  const members = [...head];
  let bytes = head.reduce((sum, update) => sum + JSON.stringify(update).length + 1, 0);
  for (const update of rest) {
    bytes += JSON.stringify(update).length + 1;
    if (bytes > JOIN_REPLY_MAX_BYTES) break;
    members.push(update);
  }
  return members;
}
