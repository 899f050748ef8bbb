import { describe, expect, it } from 'vitest';
import type { MeshMessage } from './contracts.ts';
import { alive, nextProbe, testNode } from './membership.test.helper.ts';

describe('probing', () => {
  it('pings one member per period, round-robin, each once per round', () => {
    const a = testNode('a');
    a.know('b', 'c', 'd');
    const times: number[] = [];
    const targets = [0, 1, 2, 3, 4, 5].map(() => {
      const probe = nextProbe(a);
      times.push(a.clock.now());
      a.membership.receive({
        kind: 'ack',
        seq: probe.message.seq,
        from: probe.to.split(':')[0] as string,
        updates: [],
      });
      return probe.to;
    });
    expect(new Set(targets.slice(0, 3)).size).toBe(3);
    expect(new Set(targets.slice(3, 6)).size).toBe(3);
    for (let i = 1; i < times.length; i++) expect((times[i] as number) - (times[i - 1] as number)).toBe(1000);
    expect(a.of('ping').filter((p) => p.message.seq > 0).length).toBe(6);
  });

  it('an acked probe suspects nobody and sends no ping-req', () => {
    const a = testNode('a');
    a.know('b');
    const probe = nextProbe(a);
    a.membership.receive({ kind: 'ack', seq: probe.message.seq, from: 'b', updates: [] });
    // Past the end of this period (the next probe starts, unanswered, but is not yet over).
    a.clock.advance(1400);
    expect(a.of('ping-req')).toEqual([]);
    expect(a.state('b')?.state).toBe('alive');
  });

  it('a missed ack sends k ping-reqs after probeTimeout, then suspects at the end of the period', () => {
    const a = testNode('a', { indirectChecks: 3 });
    a.know('b', 'c', 'd', 'e');
    const probe = nextProbe(a);
    const sentAt = a.clock.now();
    const target = probe.to.split(':')[0] as string;
    a.clock.advance(480);
    expect(a.of('ping-req')).toEqual([]);
    a.clock.advance(40);
    const requests = a.of('ping-req');
    expect(requests.length).toBe(3);
    expect(new Set(requests.map((r) => r.to)).size).toBe(3);
    for (const request of requests) {
      expect(request.to).not.toBe(probe.to);
      expect(request.message.target.name).toBe(target);
      expect(request.message.seq).toBe(probe.message.seq);
    }
    expect(a.state(target)?.state).toBe('alive');
    a.clock.runUntil(sentAt + 1000);
    expect(a.state(target)?.state).toBe('suspect');
    expect(a.changes.at(-1)).toMatchObject({ member: { name: target, state: 'suspect' }, previous: 'alive' });
  });

  it('an ack relayed by a helper (target set) keeps the target alive', () => {
    const a = testNode('a');
    a.know('b', 'c', 'd', 'e');
    const probe = nextProbe(a);
    const target = probe.to.split(':')[0] as string;
    a.clock.advance(600);
    const helper = a.of('ping-req')[0]?.to.split(':')[0] as string;
    a.membership.receive({ kind: 'ack', seq: probe.message.seq, from: helper, target, updates: [] });
    a.clock.advance(2000);
    expect(a.state(target)?.state).toBe('alive');
  });

  it('as a helper, pings the target with requester set, relays its ack, and nacks on timeout', () => {
    const h = testNode('h');
    h.know('r', 't', 'u');
    h.membership.receive({ kind: 'ping-req', seq: 41, from: 'r', target: alive('t'), updates: [] });
    const ping = h.of('ping').at(-1);
    expect(ping).toMatchObject({ to: 't:7946', message: { requester: 'r' } });
    h.membership.receive({ kind: 'ack', seq: ping?.message.seq as number, from: 't', updates: [] });
    expect(h.of('ack').at(-1)).toMatchObject({ to: 'r:7946', message: { seq: 41, from: 'h', target: 't' } });

    h.membership.receive({ kind: 'ping-req', seq: 42, from: 'r', target: alive('u'), updates: [] });
    h.clock.advance(499);
    expect(h.of('nack')).toEqual([]);
    h.clock.advance(2);
    expect(h.of('nack')).toEqual([{ to: 'r:7946', message: { kind: 'nack', seq: 42, from: 'h', target: 'u' } }]);
  });

  it('a ping from a member is acked to its address with queued updates', () => {
    const a = testNode('a');
    a.know('b');
    a.membership.receive({ kind: 'ping', seq: 9, from: 'b', updates: [alive('c')] });
    const ack = a.of('ack').at(-1);
    expect(ack).toMatchObject({ to: 'b:7946', message: { seq: 9, from: 'a' } });
    expect(a.state('c')?.state).toBe('alive');
  });
});

describe('suspicion, death and refutation', () => {
  it('declares a suspect dead after suspicionMult·max(1, log10 n)·probeInterval and gossips it', () => {
    const a = testNode('a', { suspicionMult: 4 });
    a.know('b', 'c');
    a.membership.receive({ kind: 'ping', seq: 0, from: 'c', updates: [{ ...alive('b'), state: 'suspect' }] });
    const at = a.clock.now();
    expect(a.state('b')?.state).toBe('suspect');
    // n = 3: log10(3) < 1, so 4 · 1 · 1000 ms.
    a.clock.runUntil(at + 3999);
    expect(a.state('b')?.state).toBe('suspect');
    a.clock.runUntil(at + 4000);
    expect(a.state('b')?.state).toBe('dead');
    a.sent.length = 0;
    a.clock.advance(1000);
    expect(a.updates()).toContainEqual({ ...alive('b'), state: 'dead' });
  });

  it('the suspicion window grows with log10 n', () => {
    const a = testNode('a', { suspicionMult: 4 });
    const peers = Array.from({ length: 99 }, (_, i) => `p${i}`);
    a.know(...peers);
    a.membership.receive({ kind: 'ping', seq: 0, from: 'p1', updates: [{ ...alive('p0'), state: 'suspect' }] });
    const at = a.clock.now();
    a.clock.runUntil(at + 7999);
    expect(a.state('p0')?.state).toBe('suspect');
    a.clock.runUntil(at + 8000);
    expect(a.state('p0')?.state).toBe('dead');
  });

  it('refutes a suspicion of itself by raising its incarnation', () => {
    const a = testNode('a');
    a.know('b');
    a.membership.receive({ kind: 'ping', seq: 0, from: 'b', updates: [{ ...alive('a', 3), state: 'suspect' }] });
    expect(a.state('a')).toEqual(alive('a', 4));
    a.sent.length = 0;
    a.clock.advance(1000);
    expect(a.updates()).toContainEqual(alive('a', 4));
  });

  it('an alive update with a higher incarnation clears a suspicion; an equal one does not', () => {
    const a = testNode('a');
    a.know('b', 'c');
    a.membership.receive({ kind: 'ping', seq: 0, from: 'c', updates: [{ ...alive('b', 2), state: 'suspect' }] });
    a.membership.receive({ kind: 'ping', seq: 0, from: 'c', updates: [alive('b', 2)] });
    expect(a.state('b')?.state).toBe('suspect');
    a.membership.receive({ kind: 'ping', seq: 0, from: 'c', updates: [alive('b', 3)] });
    expect(a.state('b')).toEqual(alive('b', 3));
    // The suspicion timer (4 s) is gone: no probe of ours can make b dead this soon.
    a.clock.advance(4500);
    expect(a.state('b')?.state).not.toBe('dead');
  });

  it('a dead member that comes back with a higher incarnation is alive again', () => {
    const a = testNode('a');
    a.know('b', 'c');
    a.membership.receive({ kind: 'ping', seq: 0, from: 'c', updates: [{ ...alive('b', 1), state: 'dead' }] });
    expect(a.state('b')?.state).toBe('dead');
    a.membership.receive({ kind: 'ping', seq: 0, from: 'c', updates: [alive('b', 1)] });
    expect(a.state('b')?.state).toBe('dead');
    a.membership.receive({ kind: 'ping', seq: 0, from: 'c', updates: [alive('b', 2)] });
    expect(a.state('b')?.state).toBe('alive');
    expect(a.changes.at(-1)).toMatchObject({ member: { name: 'b', state: 'alive' }, previous: 'dead' });
  });

  it('tells a member it holds dead that it is dead, so that member refutes', () => {
    const a = testNode('a');
    a.know('b', 'c');
    a.membership.receive({ kind: 'ping', seq: 0, from: 'c', updates: [{ ...alive('b', 1), state: 'dead' }] });
    a.sent.length = 0;
    a.membership.receive({ kind: 'ping', seq: 5, from: 'b', updates: [] });
    expect(a.of('ack')[0]?.message.updates).toContainEqual({ ...alive('b', 1), state: 'dead' });
  });

  it('drops malformed messages and updates without throwing', () => {
    const a = testNode('a');
    a.know('b');
    const bad = [
      null,
      { kind: 'ping' },
      { kind: 'ping', seq: 1, from: 'b', updates: [{ name: 'x' }, { ...alive('y'), incarnation: -1 }, 'z'] },
      { kind: 'join', from: { name: 'q' } },
      { kind: 'ack', seq: 'x', from: 'b', updates: 'nope' },
      { kind: 'mystery', from: 'b' },
    ];
    for (const message of bad) expect(() => a.membership.receive(message as unknown as MeshMessage)).not.toThrow();
    expect(a.membership.members().map((m) => m.name)).toEqual(['a', 'b']);
  });
});

describe('piggybacked updates', () => {
  it('at most maxUpdatesPerMessage per message, newest first', () => {
    const a = testNode('a', { maxUpdatesPerMessage: 4 });
    a.know('b');
    const news = Array.from({ length: 10 }, (_, i) => alive(`n${i}`));
    a.membership.receive({ kind: 'ping', seq: 0, from: 'b', updates: news });
    a.sent.length = 0;
    a.membership.receive({ kind: 'ping', seq: 1, from: 'c0', updates: [alive('c0')] });
    const ack = a.of('ack')[0]?.message;
    expect(ack?.updates.length).toBe(4);
    expect(ack?.updates.map((u) => u.name)).toEqual(['n9', 'n8', 'n7', 'n6']);
    for (const entry of a.sent)
      if ('updates' in entry.message) expect(entry.message.updates.length).toBeLessThanOrEqual(4);
  });

  it('sends each update retransmitMult·ceil(log10(n+1)) times, then no more', () => {
    const a = testNode('a', { retransmitMult: 2 });
    a.know('b', 'c');
    a.sent.length = 0;
    a.membership.receive({ kind: 'ping', seq: 0, from: 'c', updates: [alive('d')] });
    a.clock.advance(30_000);
    // n = 4 (a, b, c, d): 2 · ceil(log10 5) = 2 sends; never back to c, which sent it.
    const sends = a.sent.filter(
      (e) => 'updates' in e.message && e.message.updates.some((u) => u.name === 'd' && u.state === 'alive'),
    );
    expect(sends.length).toBe(2);
    expect(sends.map((s) => s.to)).not.toContain('c:7946');
  });

  it('passes extras through untouched on probes and their acks', () => {
    const extras = { coordinate: { vec: [0.001, 0.002], height: 0.0001, error: 0.5 } };
    const heard: unknown[] = [];
    const a = testNode('a', { extrasFor: () => extras, onExtras: (peer, e) => heard.push([peer, e]) });
    a.know('b');
    const probe = nextProbe(a);
    expect(probe.message.extras).toBe(extras);
    a.membership.receive({ kind: 'ack', seq: probe.message.seq, from: 'b', updates: [], extras });
    expect(heard).toEqual([['b', extras]]);
    a.membership.receive({ kind: 'ping', seq: 3, from: 'b', updates: [] });
    expect(a.of('ack').at(-1)?.message.extras).toBe(extras);
  });
});
