import { describe, expect, it } from 'vitest';
import { LoginLimiter } from './login-limiter.ts';

describe('login limiter', () => {
  it('locks a name and address after 5 failures in 15 minutes, then lets go', () => {
    let t = 1_000_000;
    const limiter = new LoginLimiter({ now: () => t });
    for (let i = 0; i < 4; i++) limiter.fail('alice', '192.0.2.1');
    expect(limiter.retryAfter('alice', '192.0.2.1')).toBe(0);
    expect(limiter.fail('alice', '192.0.2.1')).toBe(5);
    expect(limiter.retryAfter('alice', '192.0.2.1')).toBe(15 * 60);
    // Other names and other addresses are not affected.
    expect(limiter.retryAfter('bob', '192.0.2.1')).toBe(0);
    expect(limiter.retryAfter('alice', '192.0.2.2')).toBe(0);
    t += 15 * 60_000 + 1;
    expect(limiter.retryAfter('alice', '192.0.2.1')).toBe(0);
  });

  it('forgets failures after a success and keeps at most maxKeys keys', () => {
    const limiter = new LoginLimiter({ maxKeys: 10 });
    for (let i = 0; i < 4; i++) limiter.fail('alice', 'a');
    limiter.succeed('alice', 'a');
    expect(limiter.fail('alice', 'a')).toBe(1);
    for (let i = 0; i < 50; i++) limiter.fail(`user${i}`, 'a');
    expect(limiter.size).toBeLessThanOrEqual(10);
    // Old keys were dropped to stay within the bound; the newest remain.
    for (let i = 0; i < 4; i++) limiter.fail('user49', 'a');
    expect(limiter.retryAfter('user49', 'a')).toBeGreaterThan(0);
  });

  it('counts a reserved attempt at once and gives it back when released', () => {
    const limiter = new LoginLimiter({ maxFailures: 2 });
    expect(limiter.reserve('alice', 'a')).toBe(0);
    expect(limiter.reserve('alice', 'a')).toBe(0);
    expect(limiter.attempts('alice', 'a')).toBe(2);
    // Both slots are taken while their checks run, so a third is refused before any check.
    expect(limiter.reserve('alice', 'a')).toBeGreaterThan(0);
    limiter.release('alice', 'a');
    expect(limiter.attempts('alice', 'a')).toBe(1);
    expect(limiter.reserve('alice', 'a')).toBe(0);
    limiter.succeed('alice', 'a');
    expect(limiter.attempts('alice', 'a')).toBe(0);
  });
});
