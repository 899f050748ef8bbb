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
});
