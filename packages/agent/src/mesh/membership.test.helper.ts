import type { MemberState, MembershipOptions, MemberUpdate, MeshMessage } from './contracts.ts';
import { createMembership } from './membership.ts';
import { createEventClock, type EventClock } from './simulation/event-clock.ts';
import { seededRandom } from './simulation/prng.ts';

// One membership under test with a deterministic clock and every message it sends captured.

export interface Sent {
  to: string;
  message: MeshMessage;
}

export const alive = (name: string, incarnation = 0): MemberUpdate => ({
  name,
  address: `${name}:7946`,
  incarnation,
  state: 'alive',
});

export function testNode(name: string, options: Partial<MembershipOptions> & { clock?: EventClock } = {}) {
  const clock = options.clock ?? createEventClock();
  const sent: Sent[] = [];
  const changes: { member: MemberUpdate; previous: MemberState | undefined }[] = [];
  const refusals: string[] = [];
  const membership = createMembership({
    random: seededRandom(7),
    ...options,
    self: { name, address: `${name}:7946` },
    clock,
    send: (to, message) => sent.push({ to, message }),
    onMemberChange: (member, previous) => changes.push({ member, previous }),
    onJoinRefused: (reason) => refusals.push(reason),
  });
  return {
    name,
    address: `${name}:7946`,
    clock,
    membership,
    sent,
    changes,
    refusals,
    /** Learns members the way gossip brings them: a gossip-only ping carrying their alive records. */
    know(...names: string[]) {
      for (const peer of names) membership.receive({ kind: 'ping', seq: 0, from: peer, updates: [alive(peer)] });
      sent.length = 0;
    },
    state: (peer: string) => membership.members().find((member) => member.name === peer),
    of: <K extends MeshMessage['kind']>(kind: K) =>
      sent.filter((entry) => entry.message.kind === kind) as {
        to: string;
        message: Extract<MeshMessage, { kind: K }>;
      }[],
    /** Every update this node sent, across all messages. */
    updates: () => sent.flatMap((entry) => ('updates' in entry.message ? entry.message.updates : [])) as MemberUpdate[],
  };
}

export type TestNode = ReturnType<typeof testNode>;

/** Advances to the next direct probe (a ping with seq > 0 and no requester) and returns it. */
export function nextProbe(node: TestNode, limitMs = 5000) {
  const from = node.sent.length;
  const end = node.clock.now() + limitMs;
  while (node.clock.now() < end) {
    node.clock.advance(10);
    const found = node.sent
      .slice(from)
      .find((entry) => entry.message.kind === 'ping' && entry.message.seq > 0 && !entry.message.requester);
    if (found) return found as { to: string; message: Extract<MeshMessage, { kind: 'ping' }> };
  }
  throw new Error(`${node.name} sent no probe within ${limitMs} ms`);
}
