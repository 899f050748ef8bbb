import type { MeshClock, MeshMessage, SendMessage } from '../contracts.ts';
import type { Random } from './prng.ts';

// A simulated network: per-link latency and loss, partitions, nodes taken down, and the bytes each
// sender puts on the wire (JSON.stringify length of every message it sends, delivered or not).

export interface NetworkOptions {
  clock: MeshClock;
  random: Random;
  /** One-way latency of a link, ms; default 1 ms ± 0.5 ms. */
  latencyMs?: (from: string, to: string) => number;
  /** Probability a message on the link is lost; default 0. */
  loss?: (from: string, to: string) => number;
}

export interface Network {
  attach(address: string, receive: (message: MeshMessage) => void): void;
  /** The send function for the node at `address`. */
  sender(address: string): SendMessage;
  /** Takes a node off the network: nothing reaches it or leaves it. */
  down(address: string): void;
  /** Splits the network: messages between addresses in different groups are dropped. */
  partition(groups: string[][]): void;
  heal(): void;
  setLoss(loss: (from: string, to: string) => number): void;
  bytesSent(address: string): number;
  resetCounters(): void;
  totals(): { messages: number; bytes: number; dropped: number };
}

// Member records are shared by the many messages that piggyback them and never mutated, so each one's
// JSON length is computed once: a message's length is then exactly that of JSON.stringify(message).
const recordLength = new WeakMap<object, number>();

function lengthOf(items: object[]): number {
  let sum = items.length > 0 ? items.length - 1 : 0;
  for (const item of items) {
    let length = recordLength.get(item);
    if (length === undefined) {
      length = JSON.stringify(item).length;
      recordLength.set(item, length);
    }
    sum += length;
  }
  return sum;
}

export function messageLength(message: MeshMessage): number {
  if (message.kind === 'join-reply')
    return JSON.stringify({ ...message, members: [] }).length + lengthOf(message.members);
  if ('updates' in message && Array.isArray(message.updates)) {
    return JSON.stringify({ ...message, updates: [] }).length + lengthOf(message.updates);
  }
  return JSON.stringify(message).length;
}

export function createNetwork(options: NetworkOptions): Network {
  const { clock, random } = options;
  const latency = options.latencyMs ?? (() => 0.5 + random());
  let loss = options.loss ?? (() => 0);
  const nodes = new Map<string, (message: MeshMessage) => void>();
  const offline = new Set<string>();
  const group = new Map<string, number>();
  const bytes = new Map<string, number>();
  let messages = 0;
  let total = 0;
  let dropped = 0;

  const reachable = (from: string, to: string): boolean =>
    !offline.has(from) && !offline.has(to) && group.get(from) === group.get(to);

  const sender =
    (from: string): SendMessage =>
    (to, message) => {
      const size = messageLength(message);
      bytes.set(from, (bytes.get(from) ?? 0) + size);
      messages += 1;
      total += size;
      if (!reachable(from, to) || random() < loss(from, to)) {
        dropped += 1;
        return;
      }
      clock.setTimeout(
        () => {
          const receive = nodes.get(to);
          if (receive && reachable(from, to)) receive(message);
          else dropped += 1;
        },
        latency(from, to),
      );
    };

  return {
    attach: (address, receive) => {
      nodes.set(address, receive);
      offline.delete(address);
    },
    sender,
    down: (address) => {
      offline.add(address);
    },
    partition: (groups) => {
      group.clear();
      groups.forEach((members, index) => {
        for (const address of members) group.set(address, index + 1);
      });
    },
    heal: () => group.clear(),
    setLoss: (next) => {
      loss = next;
    },
    bytesSent: (address) => bytes.get(address) ?? 0,
    resetCounters: () => {
      bytes.clear();
      messages = 0;
      total = 0;
      dropped = 0;
    },
    totals: () => ({ messages, bytes: total, dropped }),
  };
}
