import { describe, expect, it } from 'vitest';
import { peerTotalFactor, RateWindow } from './rate-window.ts';

const hits = (limits: RateWindow, keys: string[]) => keys.map((k) => limits.hit(k));
const refused = (results: number[]) => results.filter((r) => r > 0).length;

describe('RateWindow', () => {
  it('allows up to the limit per address in a window, then says how long to wait', () => {
    let now = 60_000 * 10 + 15_000;
    const limits = new RateWindow(2, 60_000, () => now);
    expect([limits.hit('a'), limits.hit('a'), limits.hit('b')]).toEqual([0, 0, 0]);
    expect(limits.hit('a')).toBe(45);
    now += 44_500;
    expect(limits.hit('a')).toBe(1);
    now += 500;
    expect(limits.hit('a')).toBe(0);
  });

  it('limits each forwarded address of a peer on its own, and the peer in total', () => {
    const limits = new RateWindow(2, 60_000, () => 0);
    // Every address the peer forwards for gets the per-address limit...
    expect(hits(limits, ['p 1.1.1.1', 'p 1.1.1.1', 'p 1.1.1.1'])).toEqual([0, 0, 60]);
    // ...and a peer that makes up a new one each time stops at its total.
    const total = 2 * peerTotalFactor;
    const madeUp = hits(
      limits,
      Array.from({ length: 1000 }, (_, i) => `p 10.${i >> 8}.${i & 255}.1`),
    );
    expect(refused(madeUp)).toBe(1000 - (total - 3));
    expect(madeUp.slice(0, total - 3)).toEqual(Array(total - 3).fill(0));
    // Other peers, and the peer's own requests, keep their own buckets.
    expect(hits(limits, ['q 1.1.1.1', 'q 10.0.0.1', 'p'])).toEqual([0, 0, 0]);
  });

  it('does not lift the limit once the window holds maxKeys: new keys count against their peer', () => {
    const limits = new RateWindow(1, 60_000, () => 0, 4);
    expect(hits(limits, ['a', 'p 1.1.1.1', 'b'])).toEqual([0, 0, 0]); // 4 keys: a, "p *", "p 1.1.1.1", b
    // A known key is still limited as before.
    expect(limits.hit('a')).toBeGreaterThan(0);
    // A flood of new peers shares one bucket of peerTotalFactor × the limit.
    const flood = hits(
      limits,
      Array.from({ length: 500 }, (_, i) => `198.51.${i >> 8}.${i & 255}`),
    );
    expect(refused(flood)).toBe(500 - peerTotalFactor);
  });

  it('counts a new forwarded address against its peer once the window is full', () => {
    const limits = new RateWindow(3, 60_000, () => 0, 3);
    expect(hits(limits, ['p', 'p 1.1.1.1'])).toEqual([0, 0]); // keys: p, "p *", "p 1.1.1.1"
    // Full: new addresses of p share p's own bucket (limit 3, one already used).
    expect(hits(limits, ['p 2.2.2.2', 'p 3.3.3.3', 'p 4.4.4.4'])).toEqual([0, 0, 60]);
    expect(limits.hit('p')).toBe(60);
    // The known address keeps its own bucket.
    expect(limits.hit('p 1.1.1.1')).toBe(0);
  });

  it('starts every window afresh', () => {
    let now = 0;
    const limits = new RateWindow(1, 60_000, () => now, 2);
    expect(hits(limits, ['a', 'a', 'b', 'c'])).toEqual([0, 60, 0, 0]);
    now = 60_000;
    expect(hits(limits, ['a', 'b', 'c', 'd'])).toEqual([0, 0, 0, 0]);
  });
});
