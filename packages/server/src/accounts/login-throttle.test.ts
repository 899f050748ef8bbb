import { describe, expect, it } from 'vitest';
import { type FakeBus, joinedBuses } from '../cluster/testing.test.helper.ts';
import { isRefusal, type LoginRefusal, type LoginReservation, LoginThrottle } from './login-throttle.ts';

function allowed(r: LoginReservation | LoginRefusal): LoginReservation {
  if (isRefusal(r)) throw new Error(`refused: ${r.message}`);
  return r;
}

describe('login throttle', () => {
  it('anyone sharing a client address cannot lock a user out: delays grow per (user, source)', () => {
    let t = 1_000_000;
    const throttle = new LoginThrottle({ now: () => t });
    for (let i = 0; i < 5; i++) allowed(throttle.reserve('admin', '192.0.2.1')).failed();
    // The sixth must wait 1 s after the last failure, then 2 s, 4 s …, capped at 5 minutes.
    expect(throttle.reserve('admin', '192.0.2.1')).toEqual({
      retryAfter: 1,
      message: 'too many failed logins for "admin" from this address',
    });
    for (const delay of [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]) {
      t += delay * 1000 - 1;
      expect(isRefusal(throttle.reserve('admin', '192.0.2.1'))).toBe(true);
      t += 1;
      allowed(throttle.reserve('admin', '192.0.2.1')).failed();
    }
    // A different source is not delayed at all, and a success there does not help the first source.
    allowed(throttle.reserve('admin', '192.0.2.2')).succeeded();
    expect(isRefusal(throttle.reserve('ADMIN', '192.0.2.1'))).toBe(true);
    // Quiet for 15 minutes: that name and source start afresh.
    t += 15 * 60_000 + 1;
    allowed(throttle.reserve('admin', '192.0.2.1')).succeeded();
  });

  it('logins with random user names are limited per source address, IPv6 per /64', () => {
    let t = 0;
    const throttle = new LoginThrottle({ now: () => t, perSource: { burst: 3, perMinute: 6 } });
    for (let i = 0; i < 3; i++) allowed(throttle.reserve(`random${i}`, '2001:db8:1:2::1')).failed();
    const refused = throttle.reserve('random9', '2001:db8:1:2:ffff::9');
    expect(refused).toEqual({ retryAfter: 10, message: 'too many failed logins from this address' });
    // Whatever the name, known or not: the refusal says nothing about the name.
    expect(throttle.reserve('admin', '2001:db8:1:2::1')).toEqual(refused);
    allowed(throttle.reserve('random9', '2001:db8:1:3::1')).failed();
    // One token back every 10 s (6 a minute).
    t += 10_000;
    allowed(throttle.reserve('random10', '2001:db8:1:2::1')).failed();
    expect(isRefusal(throttle.reserve('random11', '2001:db8:1:2::1'))).toBe(true);
  });

  it('logins with random user names are limited overall, from however many sources', () => {
    let t = 0;
    const throttle = new LoginThrottle({ now: () => t, overall: { burst: 10, perMinute: 60 } });
    for (let i = 0; i < 10; i++) allowed(throttle.reserve(`random${i}`, `198.51.100.${i}`)).failed();
    expect(throttle.reserve('alice', '203.0.113.1')).toEqual({
      retryAfter: 1,
      message: 'too many failed logins on this server',
    });
    t += 1000;
    allowed(throttle.reserve('alice', '203.0.113.1')).failed();
  });

  it('lets a name and address that logged in before past the overall budget, not past its own', () => {
    let t = 0;
    const throttle = new LoginThrottle({ now: () => t, overall: { burst: 2, perMinute: 1 } });
    allowed(throttle.reserve('alice', '192.0.2.1')).succeeded();
    allowed(throttle.reserve('random1', '198.51.100.1')).failed();
    allowed(throttle.reserve('random2', '198.51.100.2')).failed();
    expect(throttle.reserve('bob', '192.0.2.9')).toMatchObject({ message: 'too many failed logins on this server' });
    // alice, from where she logged in before, is not kept out by the flood; from elsewhere she is.
    const again = allowed(throttle.reserve('alice', '192.0.2.1'));
    expect(again.known).toBe(true);
    again.succeeded();
    expect(isRefusal(throttle.reserve('alice', '192.0.2.2'))).toBe(true);
    for (let i = 0; i < 5; i++) allowed(throttle.reserve('alice', '192.0.2.1')).failed();
    expect(throttle.reserve('alice', '192.0.2.1')).toMatchObject({ retryAfter: 1 });
    // Known for 30 days.
    t += 30 * 86_400_000;
    allowed(throttle.reserve('random3', '198.51.100.3')).failed();
    allowed(throttle.reserve('random4', '198.51.100.4')).failed();
    expect(throttle.reserve('alice', '192.0.2.1')).toMatchObject({ message: 'too many failed logins on this server' });
  });

  it('gives back what a success or an attempt without verdict took, once', () => {
    const throttle = new LoginThrottle({ now: () => 0, perSource: { burst: 2, perMinute: 1 } });
    const first = allowed(throttle.reserve('alice', '192.0.2.1'));
    first.succeeded();
    first.succeeded();
    const second = allowed(throttle.reserve('bob', '192.0.2.1'));
    second.released();
    second.released();
    allowed(throttle.reserve('carol', '192.0.2.1')).failed();
    allowed(throttle.reserve('dave', '192.0.2.1')).failed();
    expect(isRefusal(throttle.reserve('erin', '192.0.2.1'))).toBe(true);
  });

  it('holds at most maxKeys names and sources', () => {
    const throttle = new LoginThrottle({ maxKeys: 10, overall: { burst: 1000, perMinute: 1000 } });
    for (let i = 0; i < 200; i++) allowed(throttle.reserve(`user${i}`, `192.0.2.${i}`)).failed();
    expect(throttle.size).toBeLessThanOrEqual(30);
  });
});

describe('login throttle between replicas', () => {
  it('counts attempts made through another replica, and forgets them as it does', () => {
    let t = 1_000_000;
    const [busA, busB] = joinedBuses(2);
    const a = new LoginThrottle({ now: () => t });
    const b = new LoginThrottle({ now: () => t });
    a.link(busA as FakeBus);
    b.link(busB as FakeBus);
    b.link(busB as FakeBus);
    const published: unknown[] = [];
    (busA as FakeBus).subscribe('login', (notice) => published.push(notice));

    for (let i = 0; i < 5; i++) allowed(a.reserve('admin', '192.0.2.1')).failed();
    // Neither the name nor the address is sent, only their hashes.
    expect(JSON.stringify(published)).not.toMatch(/admin|192\.0\.2/);
    expect(b.reserve('admin', '192.0.2.1')).toEqual({
      retryAfter: 1,
      message: 'too many failed logins for "admin" from this address',
    });
    // A success through B clears the pair on A too.
    t += 1000;
    allowed(b.reserve('admin', '192.0.2.1')).succeeded();
    allowed(a.reserve('admin', '192.0.2.1')).succeeded();

    // The per-address budget (10) spent half on each replica.
    for (let i = 0; i < 5; i++) allowed(a.reserve(`a${i}`, '192.0.2.9')).failed();
    for (let i = 0; i < 5; i++) allowed(b.reserve(`b${i}`, '192.0.2.9')).failed();
    for (const throttle of [a, b]) {
      const refused = throttle.reserve('c', '192.0.2.9');
      expect(isRefusal(refused) && refused.message).toBe('too many failed logins from this address');
    }
    // An attempt given back on one replica is given back on the other.
    t += 6000;
    allowed(a.reserve('d', '192.0.2.9')).released();
    allowed(b.reserve('d', '192.0.2.9')).failed();
    expect(isRefusal(a.reserve('e', '192.0.2.9'))).toBe(true);
  });
});
