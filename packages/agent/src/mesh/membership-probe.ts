import type { MemberUpdate, MeshClock, MeshMessage, SendMessage } from './contracts.ts';
import { MAX_RELAYS, type MembershipConfig } from './membership-config.ts';
import { publicUpdate } from './membership-join.ts';
import { isLive, type MemberRecord, type MemberTable } from './membership-table.ts';

// SWIM failure detection: one direct ping per period; after probeTimeout, ping-req to k helpers; no ack
// (direct or relayed) by the end of the period makes the target suspect. The helper side pings with
// `requester` set and relays the ack, or answers nack when its own ping times out.

type Ack = Extract<MeshMessage, { kind: 'ack' }>;
type PingReq = Extract<MeshMessage, { kind: 'ping-req' }>;

interface Probe {
  seq: number;
  target: string;
  acked: boolean;
  timer: unknown;
}

export interface ProberContext {
  clock: MeshClock;
  config: MembershipConfig;
  table: MemberTable;
  self: string;
  send: SendMessage;
  nextSeq(): number;
  updatesFor(peer: string): MemberUpdate[];
  ping(to: MemberRecord, seq: number, extra: { requester?: string; extras?: boolean }): void;
  /** The probe of `target` failed: no ack by the end of the period. */
  failed(target: MemberRecord): void;
}

export interface Prober {
  /** Ends the running probe (suspecting its target if unanswered) and starts the next one. */
  tick(): void;
  ack(message: Ack): void;
  pingReq(message: PingReq): void;
  stop(): void;
}

export function createProber(ctx: ProberContext): Prober {
  const { clock, config, table } = ctx;
  const relays = new Map<number, { requester: string; seq: number; target: string; timer: unknown }>();
  let probe: Probe | undefined;

  const finish = (): void => {
    const last = probe;
    probe = undefined;
    if (!last) return;
    clock.clearTimeout(last.timer);
    const target = table.get(last.target);
    if (!last.acked && target?.state === 'alive') ctx.failed(target);
  };

  const indirect = (current: Probe): void => {
    if (probe !== current || current.acked) return;
    const target = table.get(current.target);
    if (!target || !isLive(target.state)) return;
    for (const helper of table.randomLive(config.indirectChecks, new Set([target.name]))) {
      const updates = ctx.updatesFor(helper.name);
      const message: MeshMessage = {
        kind: 'ping-req',
        seq: current.seq,
        from: ctx.self,
        target: publicUpdate(target),
        updates,
      };
      ctx.send(helper.address, message);
    }
  };

  return {
    tick() {
      finish();
      const target = table.nextToProbe();
      if (!target) return;
      const current: Probe = { seq: ctx.nextSeq(), target: target.name, acked: false, timer: undefined };
      probe = current;
      ctx.ping(target, current.seq, { extras: true });
      current.timer = clock.setTimeout(() => indirect(current), config.probeTimeoutMs);
    },
    ack(message) {
      if (message.target !== undefined) {
        if (probe?.seq === message.seq && probe.target === message.target) probe.acked = true;
        return;
      }
      const relay = relays.get(message.seq);
      if (relay && relay.target === message.from) {
        clock.clearTimeout(relay.timer);
        relays.delete(message.seq);
        const requester = table.get(relay.requester);
        const updates = ctx.updatesFor(relay.requester);
        const ack: MeshMessage = { kind: 'ack', seq: relay.seq, from: ctx.self, target: message.from, updates };
        if (requester) ctx.send(requester.address, ack);
      } else if (probe?.seq === message.seq && probe.target === message.from) probe.acked = true;
    },
    pingReq(message) {
      const target = table.get(message.target.name);
      const requester = table.get(message.from);
      if (!target || !requester || relays.size >= MAX_RELAYS || !Number.isSafeInteger(message.seq)) return;
      const relaySeq = ctx.nextSeq();
      const timer = clock.setTimeout(() => {
        relays.delete(relaySeq);
        ctx.send(requester.address, { kind: 'nack', seq: message.seq, from: ctx.self, target: target.name });
      }, config.probeTimeoutMs);
      relays.set(relaySeq, { requester: requester.name, seq: message.seq, target: target.name, timer });
      ctx.ping(target, relaySeq, { requester: requester.name });
    },
    stop() {
      if (probe) clock.clearTimeout(probe.timer);
      probe = undefined;
      for (const relay of relays.values()) clock.clearTimeout(relay.timer);
      relays.clear();
    },
  };
}
