import { describe, expect, it } from 'vitest';
import type { MemberUpdate, MeshMessage } from '../contracts.ts';
import { createEventClock } from './event-clock.ts';
import { createNetwork, messageLength } from './network.ts';
import { seededRandom } from './prng.ts';
import { bytesPerRound, joinScenario, killScenario, partitionScenario } from './scenarios.ts';

// The protocol simulation at CI size (n = 300; the 1,000-node run is `npm run bench:mesh-sim`). Runs are
// deterministic for the seed, so the bounds below are properties of the protocol, not of machine load.

describe('simulation parts', () => {
  it('the seeded generator is reproducible and uniform enough', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    const xs = Array.from({ length: 10_000 }, () => a());
    expect(xs.slice(0, 5)).toEqual(Array.from({ length: 5 }, () => b()));
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    const mean = xs.reduce((sum, x) => sum + x, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.02);
    expect(seededRandom(43)()).not.toBe(seededRandom(42)());
  });

  it('the event clock runs timers in time order, ties in scheduling order, and honours clearTimeout', () => {
    const clock = createEventClock();
    const ran: string[] = [];
    clock.setTimeout(() => ran.push('b'), 20);
    clock.setTimeout(() => ran.push('a'), 10);
    clock.setTimeout(() => ran.push('c'), 20);
    const cancelled = clock.setTimeout(() => ran.push('x'), 15);
    clock.clearTimeout(cancelled);
    clock.setTimeout(() => clock.setTimeout(() => ran.push('d'), 0), 30);
    clock.advance(19);
    expect(ran).toEqual(['a']);
    expect(clock.now()).toBe(19);
    clock.advance(100);
    expect(ran).toEqual(['a', 'b', 'c', 'd']);
  });

  it('the network delivers after latency, drops across partitions and from downed nodes, and counts bytes', () => {
    const clock = createEventClock();
    const network = createNetwork({ clock, random: seededRandom(1), latencyMs: () => 5 });
    const got: string[] = [];
    network.attach('a', () => got.push('a'));
    network.attach('b', () => got.push('b'));
    const message = { kind: 'nack', seq: 1, from: 'a', target: 'c' } as const;
    network.sender('a')('b', message);
    clock.advance(4);
    expect(got).toEqual([]);
    clock.advance(1);
    expect(got).toEqual(['b']);
    expect(network.bytesSent('a')).toBe(JSON.stringify(message).length);
    network.partition([['a'], ['b']]);
    network.sender('a')('b', message);
    network.heal();
    network.down('b');
    network.sender('a')('b', message);
    clock.advance(10);
    expect(got).toEqual(['b']);
    expect(network.totals()).toMatchObject({ messages: 3, dropped: 2 });
    const update: MemberUpdate = { name: 'n', address: 'n:1', incarnation: 2, state: 'alive' };
    const ping: MeshMessage = { kind: 'ping', seq: 3, from: 'a', updates: [update, { ...update, name: 'm' }, update] };
    const reply: MeshMessage = { kind: 'join-reply', from: 'a', accepted: true, members: [update] };
    const empty: MeshMessage = { kind: 'ack', seq: 3, from: 'a', updates: [] };
    for (const sample of [ping, reply, empty]) {
      expect(messageLength(sample)).toBe(JSON.stringify(sample).length);
    }
    network.setLoss(() => 1);
    network.attach('b', () => got.push('b'));
    network.sender('a')('b', message);
    clock.advance(10);
    expect(got).toEqual(['b']);
  });
});

describe('SWIM over the simulated network', () => {
  it('300 nodes: joins converge within 15 s, 10 kills are seen by all within 15 s, bytes per round stay flat', () => {
    const run = joinScenario({ n: 300, seed: 2026 });
    expect(run.cluster.nodes.every((node) => node.joined && node.refused === undefined)).toBe(true);
    expect(run.convergedAfterMs).toBeDefined();
    expect(run.convergedAfterMs).toBeLessThanOrEqual(15_000);

    const at300 = bytesPerRound(run.cluster);
    const small = joinScenario({ n: 100, seed: 2026 });
    const at100 = bytesPerRound(small.cluster);
    // Steady state: a ping and an ack per node per round, whatever the mesh size.
    expect(at100.messages).toBeCloseTo(2, 1);
    expect(at300.messages).toBeCloseTo(2, 1);
    expect(at300.bytes).toBeLessThan(at100.bytes * 1.5);

    const kill = killScenario(run.cluster, 10);
    expect(kill.detectedAfterMs).toBeLessThanOrEqual(3000);
    expect(kill.allDeadAfterMs).toBeDefined();
    expect(kill.allDeadAfterMs).toBeLessThanOrEqual(15_000);
    // No live node was declared dead by anyone along the way.
    const victims = new Set(kill.victims.map((node) => node.name));
    for (const node of run.cluster.live()) {
      for (const [name, state] of node.view) if (!victims.has(name)) expect(state).toBe('alive');
    }
  });

  it('a partition into halves is seen from both sides, and heals', () => {
    const run = joinScenario({ n: 100, seed: 7 });
    expect(run.convergedAfterMs).toBeDefined();
    run.cluster.clock.advance(20_000);
    const partition = partitionScenario(run.cluster);
    expect(partition.seenAfterMs).toBeDefined();
    expect(partition.seenAfterMs).toBeLessThanOrEqual(30_000);
    expect(partition.healedAfterMs).toBeDefined();
    expect(partition.healedAfterMs).toBeLessThanOrEqual(30_000);
  });

  it('100 nodes with 10 % loss on every link: no false death in 5 minutes', () => {
    const run = joinScenario({ n: 100, seed: 11, loss: 0.1 });
    expect(run.convergedAfterMs).toBeDefined();
    const before = run.cluster.network.totals();
    run.cluster.clock.advance(300_000);
    expect(run.cluster.network.totals().dropped).toBeGreaterThan(before.dropped);
    expect(run.cluster.nodes.reduce((sum, node) => sum + node.deaths, 0)).toBe(0);
    expect(run.cluster.nodes.every((node) => node.up && [...node.view.values()].every((s) => s !== 'dead'))).toBe(true);
  });
});
