import { describe, expect, it } from 'vitest';
import type { MeshMessage } from './contracts.ts';
import { alive, nextProbe, testNode } from './membership.test.helper.ts';
import { JOIN_MAX_BACKOFF_MS, JOIN_REPLY_LIMIT, JOIN_REPLY_MAX_BYTES } from './membership-join.ts';

describe('join', () => {
  it('sends join to the targets in order, backing off (capped, jittered) until a join-reply accepts', () => {
    const a = testNode('a');
    a.membership.join(['x:1', 'y:1']);
    // The first join goes out at once.
    const times: number[] = [a.clock.now()];
    const order: string[] = a.of('join').map((j) => j.to);
    for (let i = 0; i < 14; i++) {
      const before = a.of('join').length;
      a.clock.runUntilTrue(() => a.of('join').length > before, 120_000, 1);
      times.push(a.clock.now());
      order.push(a.of('join').at(-1)?.to as string);
    }
    expect(order.slice(0, 4)).toEqual(['x:1', 'y:1', 'x:1', 'y:1']);
    expect(a.of('join')[0]?.message.from).toEqual(alive('a'));
    const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
    // Pass p waits 1 s · 2^p (±50 %), at most 30 s (±50 %).
    expect(gaps[0]).toBeGreaterThanOrEqual(500);
    expect(gaps[0]).toBeLessThanOrEqual(1500);
    expect(gaps[2]).toBeGreaterThanOrEqual(1000);
    expect(gaps[2]).toBeLessThanOrEqual(3000);
    for (const gap of gaps) expect(gap).toBeLessThanOrEqual(JOIN_MAX_BACKOFF_MS * 1.5);
    expect(Math.max(...gaps)).toBeGreaterThan(JOIN_MAX_BACKOFF_MS * 0.5);

    a.membership.receive({ kind: 'join-reply', from: 'x', accepted: true, members: [alive('x'), alive('w')] });
    expect(a.state('w')?.state).toBe('alive');
    const joins = a.of('join').length;
    a.clock.advance(120_000);
    // No more join attempts at the targets (y is no member; x and w may be pulled from or, once dead, reconnected).
    const later = a.of('join').slice(joins);
    expect(later.filter((j) => j.to === 'y:1')).toEqual([]);
  });

  it('accepts a joiner: adds it, gossips it, and replies with its members (self first)', () => {
    const r = testNode('r');
    r.know('b', 'c');
    r.membership.receive({ kind: 'join', from: alive('j') });
    const reply = r.of('join-reply')[0];
    expect(reply?.to).toBe('j:7946');
    expect(reply?.message.accepted).toBe(true);
    expect(reply?.message.members[0]).toEqual(alive('r'));
    expect(reply?.message.members.map((m) => m.name).sort()).toEqual(['b', 'c', 'r']);
    expect(r.state('j')?.state).toBe('alive');
    r.clock.advance(1000);
    expect(
      r.sent.some((e) => e.to !== 'j:7946' && 'updates' in e.message && e.message.updates.some((u) => u.name === 'j')),
    ).toBe(true);
  });

  it(`sends at most ${JOIN_REPLY_LIMIT} members in a join-reply (a sample above that)`, () => {
    const r = testNode('r');
    const peers = Array.from({ length: JOIN_REPLY_LIMIT + 200 }, (_, i) => alive(`p${i}`));
    r.membership.receive({ kind: 'ping', seq: 0, from: 'p0', updates: peers });
    r.membership.receive({ kind: 'join', from: alive('j') });
    const members = r.of('join-reply')[0]?.message.members ?? [];
    expect(members.length).toBe(JOIN_REPLY_LIMIT);
    expect(new Set(members.map((m) => m.name)).size).toBe(JOIN_REPLY_LIMIT);
    expect(members.some((m) => m.name === 'j')).toBe(false);
  });

  it('keeps a join-reply under the byte cap even with long names', () => {
    const r = testNode('r');
    const long = (i: number) => ({ ...alive(`${'n'.repeat(200)}${i}`), address: `${'h'.repeat(200)}${i}:7946` });
    r.membership.receive({
      kind: 'ping',
      seq: 0,
      from: 'p0',
      updates: Array.from({ length: 1000 }, (_, i) => long(i)),
    });
    r.membership.receive({ kind: 'join', from: alive('j') });
    const reply = r.of('join-reply')[0]?.message;
    expect(JSON.stringify(reply).length).toBeLessThanOrEqual(JOIN_REPLY_MAX_BYTES + 200);
    expect(reply?.members.length).toBeGreaterThan(300);
  });

  it('refuses a name held by a live member at another address, naming the holder; the joiner stops', () => {
    const r = testNode('r');
    r.know('b');
    r.membership.receive({ kind: 'join', from: { ...alive('b'), address: 'elsewhere:1' } });
    const reply = r.of('join-reply')[0];
    expect(reply?.to).toBe('elsewhere:1');
    expect(reply?.message).toMatchObject({ accepted: false, members: [] });
    expect(reply?.message.reason).toContain('b:7946');
    expect(r.state('b')?.address).toBe('b:7946');

    const j = testNode('b');
    j.membership.join(['r:7946']);
    j.membership.receive(reply?.message as MeshMessage);
    expect(j.refusals).toEqual([reply?.message.reason]);
    const sent = j.sent.length;
    j.clock.advance(60_000);
    expect(j.sent.length).toBe(sent);
  });

  it('refuses its own name from another address', () => {
    const r = testNode('r');
    r.membership.receive({ kind: 'join', from: { ...alive('r'), address: 'other:1' } });
    expect(r.of('join-reply')[0]?.message).toMatchObject({
      accepted: false,
      reason: expect.stringContaining('r:7946'),
    });
  });

  it('accepts a restarted node under its own name and address; it raises its incarnation above the old one', () => {
    const r = testNode('r');
    r.know('b', 'c');
    r.membership.receive({ kind: 'ping', seq: 0, from: 'c', updates: [{ ...alive('b', 5), state: 'dead' }] });
    expect(r.state('b')?.state).toBe('dead');

    const b = testNode('b', { clock: r.clock });
    b.membership.join(['r:7946']);
    r.membership.receive(b.of('join')[0]?.message as MeshMessage);
    const reply = r.of('join-reply')[0]?.message;
    expect(reply).toMatchObject({ accepted: true });
    expect(r.state('b')?.state).toBe('alive');
    b.membership.receive(reply as MeshMessage);
    expect(b.state('b')).toEqual(alive('b', 6));
    // The refutation reaches r (and so everyone) by gossip.
    b.sent.length = 0;
    r.clock.advance(1000);
    const refutation = b.updates().find((u) => u.name === 'b');
    expect(refutation).toEqual(alive('b', 6));
    r.membership.receive({ kind: 'ping', seq: 0, from: 'b', updates: [refutation as never] });
    expect(r.state('b')).toEqual(alive('b', 6));
  });

  it('a joiner already alive at a higher incarnation elsewhere catches up to it', () => {
    const r = testNode('r');
    r.know('c');
    r.membership.receive({ kind: 'ping', seq: 0, from: 'c', updates: [alive('b', 9)] });
    const b = testNode('b', { clock: r.clock });
    b.membership.join(['r:7946']);
    r.membership.receive(b.of('join')[0]?.message as MeshMessage);
    b.membership.receive(r.of('join-reply')[0]?.message as MeshMessage);
    expect(b.state('b')?.incarnation).toBe(10);
  });
});

describe('leave', () => {
  it('gossips left for self at once, stops probing, and others mark it left', () => {
    const a = testNode('a');
    a.know('b', 'c', 'd');
    nextProbe(a);
    a.sent.length = 0;
    a.membership.leave();
    const left = { ...alive('a'), state: 'left' };
    expect(a.sent.length).toBeGreaterThan(0);
    for (const entry of a.sent) expect((entry.message as { updates: unknown[] }).updates).toContainEqual(left);
    a.sent.length = 0;
    a.clock.advance(10_000);
    expect(a.sent.filter((e) => e.message.kind === 'ping' && e.message.seq > 0)).toEqual([]);
    expect(a.of('ping-req')).toEqual([]);

    const b = testNode('b');
    b.know('a', 'c');
    b.membership.receive({ kind: 'ping', seq: 0, from: 'a', updates: [left as never] });
    expect(b.state('a')?.state).toBe('left');
    expect(b.changes.at(-1)).toMatchObject({ member: { name: 'a', state: 'left' }, previous: 'alive' });
    // A left member is not probed.
    b.sent.length = 0;
    b.clock.advance(5000);
    expect(b.sent.filter((e) => e.to === 'a:7946' && e.message.kind === 'ping' && e.message.seq > 0)).toEqual([]);
  });

  it('after stop() it sends nothing and ignores messages', () => {
    const a = testNode('a');
    a.know('b');
    a.membership.stop();
    a.membership.receive({ kind: 'ping', seq: 1, from: 'b', updates: [] });
    a.clock.advance(60_000);
    expect(a.sent).toEqual([]);
  });
});
