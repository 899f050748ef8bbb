import type { MemberState, Membership, MembershipOptions, MemberUpdate, MeshMessage } from './contracts.ts';
import { createBroadcastQueue } from './membership-broadcasts.ts';
import {
  GOSSIP_NODES,
  GOSSIP_PER_PROBE,
  membershipConfig,
  RECONNECT_PROBES,
  RESYNC_PROBES,
  TOMBSTONE_MS,
} from './membership-config.ts';
import { createJoiner, decideJoin, publicUpdate, replyMembers } from './membership-join.ts';
import { createProber } from './membership-probe.ts';
import { createMemberTable, isLive, type MemberRecord } from './membership-table.ts';
import { validUpdate } from './membership-validate.ts';

// SWIM membership (memberlist LAN defaults), pure of I/O: time from options.clock, randomness from
// options.random, output through options.send. Changes ride on pings, acks and ping-reqs, and on
// gossip-only pings (seq 0) sent while changes are queued, as memberlist's gossip layer does.

export { MEMBERSHIP_DEFAULTS } from './membership-config.ts';

export function createMembership(options: MembershipOptions): Membership {
  const { clock, random, send } = options;
  const config = membershipConfig(options);
  const self = options.self;
  const table = createMemberTable(random);
  const queue = createBroadcastQueue();
  const heardFrom = new Set<string>();
  const suspicions = new Map<string, unknown>();
  const nudged = new Map<string, number>();
  let incarnation = 0;
  let status: 'running' | 'left' | 'stopped' = 'running';
  let seq = 0;
  const timers = {
    probe: undefined as unknown,
    gossip: undefined as unknown,
    reconnect: undefined as unknown,
    resync: undefined as unknown,
  };

  const selfUpdate = (): MemberUpdate => ({
    name: self.name,
    address: self.address,
    incarnation,
    state: status === 'left' ? 'left' : 'alive',
  });
  const size = (): number => table.liveCount() + 1;
  const retransmitLimit = (): number => config.retransmitMult * Math.ceil(Math.log10(size() + 1));
  const suspicionMs = (): number => config.suspicionMult * Math.max(1, Math.log10(size())) * config.probeIntervalMs;

  /** Queued changes for one message to `peer`, plus our own record if `peer` may not know our address, plus
   * `peer`'s own record if we hold it dead (so it refutes and comes back). */
  const updatesFor = (peer: string): MemberUpdate[] => {
    const extra: MemberUpdate[] = [];
    if (!heardFrom.has(peer)) extra.push(selfUpdate());
    const record = table.get(peer);
    if (record && record.state === 'dead') extra.push(publicUpdate(record));
    const queued = queue.take(Math.max(0, config.maxUpdatesPerMessage - extra.length), retransmitLimit(), peer);
    return [...extra, ...queued.filter((update) => !extra.some((e) => e.name === update.name))];
  };

  const notify = (record: MemberRecord, previous: MemberState | undefined): void => {
    options.onMemberChange?.(publicUpdate(record), previous);
  };

  const transition = (update: MemberUpdate, state: MemberState, gossip = true): void => {
    const previous = table.get(update.name);
    const record: MemberRecord = { ...publicUpdate(update), state, since: clock.now() };
    table.set(record);
    if (state !== 'suspect') clearSuspicion(update.name);
    if (gossip) queue.add(publicUpdate(record));
    if (previous?.state !== state || previous.address !== record.address) notify(record, previous?.state);
  };

  const clearSuspicion = (name: string): void => {
    const timer = suspicions.get(name);
    if (timer === undefined) return;
    clock.clearTimeout(timer);
    suspicions.delete(name);
  };

  const suspect = (record: MemberRecord, at: number): void => {
    transition({ ...record, incarnation: at }, 'suspect');
    clearSuspicion(record.name);
    const timer = clock.setTimeout(() => {
      suspicions.delete(record.name);
      const current = table.get(record.name);
      if (current?.state === 'suspect') transition(current, 'dead');
    }, suspicionMs());
    suspicions.set(record.name, timer);
  };

  const refute = (heard: number): void => {
    incarnation = Math.max(incarnation, heard) + 1;
    queue.add(selfUpdate());
  };

  const applySelf = (update: MemberUpdate): void => {
    if (status !== 'running' || update.incarnation < incarnation) return;
    if (update.state === 'alive' && update.incarnation === incarnation) return;
    refute(update.incarnation);
  };

  /** SWIM merge: alive needs a higher incarnation; suspect, dead and left win at an equal one. */
  const apply = (update: MemberUpdate): void => {
    if (!validUpdate(update)) return;
    if (update.name === self.name) {
      applySelf(update);
      return;
    }
    const local = table.get(update.name);
    if (update.state === 'alive') {
      if (!local || update.incarnation > local.incarnation) transition(update, 'alive');
      return;
    }
    if (!local || update.incarnation < local.incarnation) return;
    if (update.state === 'suspect') {
      if (local.state === 'alive') suspect(local, update.incarnation);
      else if (local.state === 'suspect' && update.incarnation > local.incarnation) {
        table.set({ ...local, incarnation: update.incarnation });
      }
      return;
    }
    if (isLive(local.state)) transition({ ...local, incarnation: update.incarnation }, update.state);
    else if (local.state === 'dead' && update.state === 'left') transition(local, 'left', false);
  };

  const applyAll = (updates: unknown, from: string): void => {
    if (!Array.isArray(updates)) return;
    for (const update of updates) {
      apply(update);
      if (validUpdate(update)) queue.heard(update, from);
    }
  };

  /** A peer we hold dead talks to us: it does not know; tell it (at most once per probe interval). */
  const nudge = (peer: string): void => {
    if (status === 'stopped') return;
    const record = table.get(peer);
    if (record?.state !== 'dead') return;
    const last = nudged.get(peer);
    if (last !== undefined && clock.now() - last < config.probeIntervalMs) return;
    nudged.set(peer, clock.now());
    send(record.address, { kind: 'ping', seq: 0, from: self.name, updates: updatesFor(peer) });
  };

  const ping = (to: MemberRecord, pingSeq: number, extra: { requester?: string; extras?: boolean }): void => {
    const message: MeshMessage = { kind: 'ping', seq: pingSeq, from: self.name, updates: updatesFor(to.name) };
    if (extra.requester !== undefined) message.requester = extra.requester;
    const extras = extra.extras ? options.extrasFor?.(to.name) : undefined;
    if (extras) message.extras = extras;
    send(to.address, message);
  };

  const prober = createProber({
    clock,
    config,
    table,
    self: self.name,
    send,
    nextSeq: () => ++seq,
    updatesFor,
    ping,
    failed: (target) => suspect(target, target.incarnation),
  });

  const probeTick = (): void => {
    timers.probe = clock.setTimeout(probeTick, config.probeIntervalMs);
    prober.tick();
  };

  const gossipTick = (): void => {
    timers.gossip = clock.setTimeout(gossipTick, config.probeIntervalMs / GOSSIP_PER_PROBE);
    if (queue.size() === 0) return;
    for (const peer of table.randomLive(GOSSIP_NODES, new Set())) ping(peer, 0, {});
  };

  const reconnectTick = (): void => {
    timers.reconnect = clock.setTimeout(reconnectTick, config.probeIntervalMs * RECONNECT_PROBES);
    if (status !== 'running') return;
    const dead: MemberRecord[] = [];
    for (const record of table.all()) {
      if (isLive(record.state)) continue;
      if (clock.now() - record.since > TOMBSTONE_MS) {
        table.delete(record.name);
        heardFrom.delete(record.name);
        nudged.delete(record.name);
      } else if (record.state === 'dead') dead.push(record);
    }
    const pick = dead[Math.min(dead.length - 1, Math.floor(random() * dead.length))];
    if (pick) send(pick.address, { kind: 'join', from: selfUpdate() });
  };

  const joiner = createJoiner({ clock, random, send, self: selfUpdate, baseDelayMs: config.probeIntervalMs });

  const onJoin = (joining: MemberUpdate): void => {
    if (!validUpdate(joining) || joining.state !== 'alive') return;
    if (joining.name === self.name && joining.address === self.address) return;
    const decision = decideJoin(selfUpdate(), table, joining);
    if (!decision.accepted) {
      send(joining.address, {
        kind: 'join-reply',
        from: self.name,
        accepted: false,
        reason: decision.reason,
        members: [],
      });
      return;
    }
    const { before } = decision;
    heardFrom.add(joining.name);
    if (!before || joining.incarnation > before.incarnation) transition(joining, 'alive');
    else if (!isLive(before.state)) transition({ ...joining, incarnation: before.incarnation }, 'alive', false);
    const members = replyMembers(selfUpdate(), table, joining.name, before, random);
    send(joining.address, { kind: 'join-reply', from: self.name, accepted: true, members });
  };

  const receive = (message: MeshMessage): void => {
    if (status === 'stopped' || typeof message !== 'object' || message === null) return;
    if (message.kind === 'join') {
      onJoin(message.from);
      return;
    }
    if (typeof message.from !== 'string' || message.from === self.name) return;
    if (message.kind === 'join-reply') applyAll(message.members, message.from);
    else if (message.kind !== 'nack') applyAll(message.updates, message.from);
    heardFrom.add(message.from);
    switch (message.kind) {
      case 'join-reply': {
        const refused = joiner.reply(message);
        if (refused !== undefined) {
          stop();
          options.onJoinRefused?.(refused);
        }
        break;
      }
      case 'ping': {
        if (message.extras) options.onExtras?.(message.from, message.extras);
        const sender = table.get(message.from);
        if (!sender || !Number.isSafeInteger(message.seq)) return;
        const ack: MeshMessage = { kind: 'ack', seq: message.seq, from: self.name, updates: updatesFor(sender.name) };
        const extras = message.seq !== 0 && !message.requester ? options.extrasFor?.(sender.name) : undefined;
        if (extras) ack.extras = extras;
        send(sender.address, ack);
        return;
      }
      case 'ack':
        if (message.extras) options.onExtras?.(message.from, message.extras);
        prober.ack(message);
        break;
      case 'ping-req':
        apply(message.target);
        if (validUpdate(message.target) && message.target.name !== self.name) prober.pingReq(message);
        break;
      case 'nack':
        break;
    }
    nudge(message.from);
  };

  const stop = (): void => {
    status = 'stopped';
    joiner.stop();
    prober.stop();
    for (const timer of [timers.probe, timers.gossip, timers.reconnect, timers.resync, ...suspicions.values()]) {
      if (timer !== undefined) clock.clearTimeout(timer);
    }
    suspicions.clear();
  };

  const leave = (): void => {
    if (status !== 'running') return;
    status = 'left';
    joiner.stop();
    clock.clearTimeout(timers.probe);
    prober.stop();
    queue.add(selfUpdate());
    // Out at once to a few members; acks and the gossip timer carry it on until it is sent often enough.
    for (const peer of table.randomLive(GOSSIP_NODES, new Set())) ping(peer, 0, {});
  };

  timers.probe = clock.setTimeout(probeTick, random() * config.probeIntervalMs);
  timers.gossip = clock.setTimeout(gossipTick, random() * (config.probeIntervalMs / GOSSIP_PER_PROBE));
  timers.reconnect = clock.setTimeout(reconnectTick, config.probeIntervalMs * RECONNECT_PROBES * (0.5 + random()));

  timers.resync = clock.setTimeout(() => {
    const [peer] = table.randomLive(1, new Set());
    if (peer && status === 'running') send(peer.address, { kind: 'join', from: selfUpdate() });
  }, config.probeIntervalMs * RESYNC_PROBES);

  return {
    join: (targets) => {
      if (status === 'running') joiner.join(targets);
    },
    receive,
    members: () => [selfUpdate(), ...[...table.all()].map(publicUpdate)],
    leave,
    stop,
  };
}
