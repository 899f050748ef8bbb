import type { MemberState, Membership, MembershipOptions } from '../contracts.ts';
import { createMembership } from '../membership.ts';
import { createEventClock, type EventClock } from './event-clock.ts';
import { createNetwork, type Network } from './network.ts';
import { fork, type Random, seededRandom } from './prng.ts';

// n simulated mesh nodes over one simulated network and clock. Each node's view (name -> state) is kept
// from onMemberChange, so convergence checks need no members() copies.

export type Tuning = Partial<
  Pick<
    MembershipOptions,
    | 'probeIntervalMs'
    | 'probeTimeoutMs'
    | 'indirectChecks'
    | 'suspicionMult'
    | 'retransmitMult'
    | 'maxUpdatesPerMessage'
  >
>;

export interface SimNode {
  index: number;
  name: string;
  address: string;
  membership: Membership | undefined;
  view: Map<string, MemberState>;
  up: boolean;
  joined: boolean;
  refused?: string;
  /** How often this node declared (or accepted) another member dead. */
  deaths: number;
}

export interface Cluster {
  clock: EventClock;
  network: Network;
  random: Random;
  nodes: SimNode[];
  /** Starts node `index` (a fresh process: incarnation 0, empty table) and joins it through `targets`. */
  start(index: number, targets: string[]): void;
  /** Starts every node, one every `staggerMs`, each joining through a random node already joined. */
  joinAll(staggerMs: number): void;
  kill(index: number): void;
  live(): SimNode[];
  /** Every live node sees every other live node alive. */
  converged(): boolean;
  /** Every live node holds each of `names` in one of `states` (or does not know it, when `absentOk`). */
  allSee(names: string[], states: MemberState[], observers?: SimNode[]): boolean;
}

export function createCluster(options: {
  n: number;
  seed: number;
  tuning?: Tuning;
  network?: { loss?: number };
}): Cluster {
  const clock = createEventClock();
  const random = seededRandom(options.seed);
  const lossRate = options.network?.loss ?? 0;
  const network = createNetwork({ clock, random: fork(random), loss: () => lossRate });
  const width = String(options.n - 1).length;
  const nodes: SimNode[] = Array.from({ length: options.n }, (_, index) => ({
    index,
    name: `node-${String(index).padStart(width, '0')}`,
    address: `10.${(index >> 8) & 255}.${index & 255}.1:8081`,
    membership: undefined,
    view: new Map(),
    up: false,
    joined: false,
    deaths: 0,
  }));
  const joinedNodes: SimNode[] = [];

  const start = (index: number, targets: string[]): void => {
    const node = nodes[index] as SimNode;
    node.view = new Map();
    node.up = true;
    node.joined = targets.length === 0;
    if (node.joined) joinedNodes.push(node);
    const membership = createMembership({
      ...options.tuning,
      self: { name: node.name, address: node.address },
      clock,
      random: fork(random),
      send: network.sender(node.address),
      onMemberChange: (member) => {
        node.view.set(member.name, member.state);
        if (member.state === 'dead') node.deaths += 1;
      },
      onJoinRefused: (reason) => {
        node.refused = reason;
      },
    });
    node.membership = membership;
    network.attach(node.address, (message) => {
      if (!node.joined && message.kind === 'join-reply' && message.accepted) {
        node.joined = true;
        joinedNodes.push(node);
      }
      membership.receive(message);
    });
    if (targets.length > 0) membership.join(targets);
  };

  const live = (): SimNode[] => nodes.filter((node) => node.up);

  const allSee = (names: string[], states: MemberState[], observers = live()): boolean => {
    for (const observer of observers) {
      for (const name of names) {
        if (name === observer.name) continue;
        const state = observer.view.get(name);
        if (state === undefined || !states.includes(state)) return false;
      }
    }
    return true;
  };

  return {
    clock,
    network,
    random,
    nodes,
    start,
    joinAll(staggerMs) {
      start(0, []);
      for (let i = 1; i < nodes.length; i++) {
        clock.setTimeout(() => {
          const via = joinedNodes[Math.floor(random() * joinedNodes.length)] as SimNode;
          start(i, [via.address]);
        }, i * staggerMs);
      }
    },
    kill(index) {
      const node = nodes[index] as SimNode;
      node.membership?.stop();
      node.up = false;
      network.down(node.address);
    },
    live,
    converged: () => {
      const alive = live();
      return allSee(
        alive.map((node) => node.name),
        ['alive'],
        alive,
      );
    },
    allSee,
  };
}
