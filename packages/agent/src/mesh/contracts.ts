// The seams between the mesh node's parts: membership (SWIM), measurement and the transport that carries
// messages. Membership and measurement are pure of I/O behind these interfaces, so the same code runs in a
// real node and in the one-process protocol simulation.

/** A member as this node sees it; `incarnation` only grows, and only its owner raises it (to refute). */
export type MemberState = 'alive' | 'suspect' | 'dead' | 'left';

export interface MemberUpdate {
  name: string;
  /** host:port other nodes dial for the mesh protocol. */
  address: string;
  incarnation: number;
  state: MemberState;
}

/** Per origin, per peer, per minute: what a node measured, spread as deltas (origin, seq), never as a table. */
export interface PairSummary {
  from: string;
  to: string;
  /** Probe phase: dns, connect (TCP), tls (handshake), request (on a kept-alive connection). */
  phase: 'dns' | 'connect' | 'tls' | 'request';
  /** Start of the minute, ms since the epoch. */
  minute: number;
  count: number;
  failed: number;
  /** Seconds; absent when every probe in the minute failed. */
  min?: number;
  p50?: number;
  p99?: number;
  max?: number;
  /** Mean absolute difference of consecutive round trips, seconds. */
  jitter?: number;
}

/** Piggybacked on probes: the sender's own summaries with a per-origin sequence number. */
export interface SummaryDelta {
  origin: string;
  seq: number;
  summaries: PairSummary[];
}

/** Network coordinate (Vivaldi): vector in seconds, height, error estimate. */
export interface Coordinate {
  vec: number[];
  height: number;
  error: number;
}

/** Messages between mesh nodes. One-way: replies are messages of their own (ack for ping, join-reply). */
export type MeshMessage =
  | { kind: 'join'; from: MemberUpdate }
  | { kind: 'join-reply'; from: string; accepted: boolean; reason?: string; members: MemberUpdate[] }
  | {
      kind: 'ping';
      seq: number;
      from: string;
      /** Set on a ping sent on behalf of `requester` (indirect probe). */
      requester?: string;
      updates: MemberUpdate[];
      extras?: MessageExtras;
    }
  | { kind: 'ping-req'; seq: number; from: string; target: MemberUpdate; updates: MemberUpdate[] }
  | {
      kind: 'ack';
      seq: number;
      from: string;
      /** Set on an ack relayed for an indirect probe. */
      target?: string;
      updates: MemberUpdate[];
      extras?: MessageExtras;
    }
  | { kind: 'nack'; seq: number; from: string; target: string };

/** What measurement rides along on probes and acks (bounded by the sender). */
export interface MessageExtras {
  coordinate?: Coordinate;
  deltas?: SummaryDelta[];
}

/** Time and timers, real or simulated. */
export interface MeshClock {
  now(): number;
  setTimeout(run: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Sends one message to the node at `address`; delivery is not guaranteed (a lost message is a timeout). */
export type SendMessage = (address: string, message: MeshMessage) => void;

export interface MembershipOptions {
  self: { name: string; address: string };
  clock: MeshClock;
  /** Uniform [0, 1); seeded in the simulation. */
  random: () => number;
  send: SendMessage;
  probeIntervalMs?: number; // 1000
  probeTimeoutMs?: number; // 500
  indirectChecks?: number; // 3
  suspicionMult?: number; // 4
  retransmitMult?: number; // 4
  /** Most membership updates piggybacked on one message. */
  maxUpdatesPerMessage?: number;
  /** Extras to attach to an outgoing ping or ack for `peer` (measurement deltas, coordinate). */
  extrasFor?: (peer: string) => MessageExtras | undefined;
  onExtras?: (peer: string, extras: MessageExtras) => void;
  /** A member changed state (joined, suspected, died, left, came back). */
  onMemberChange?: (member: MemberUpdate, previous: MemberState | undefined) => void;
  /** A join target refused us (name held by another node): the node stops with this reason. */
  onJoinRefused?: (reason: string) => void;
}

export interface Membership {
  /** Joins through the first target that answers; retried with backoff until one does. */
  join(targets: string[]): void;
  receive(message: MeshMessage): void;
  members(): MemberUpdate[];
  /** Gossips `left` for self, then stops probing. */
  leave(): void;
  stop(): void;
}
