import { describe, expect, it } from 'vitest';
import { compileTrustedProxies } from './trusted-proxies.ts';

describe('compileTrustedProxies', () => {
  const trust = compileTrustedProxies(['10.0.0.0/8', '192.168.1.7', '127.0.0.0/8', 'fd00::/8', '2001:db8::1']);

  it.each([
    ['10.1.2.3', true],
    ['11.0.0.1', false],
    ['192.168.1.7', true],
    ['192.168.1.8', false],
    ['127.0.0.1', true],
    ['::ffff:127.0.0.1', true],
    ['::ffff:8.8.8.8', false],
    ['fd12:3456::1', true],
    ['fe80::1', false],
    ['2001:db8::1', true],
    ['2001:db8::2', false],
    ['8.8.8.8', false],
    ['not an address', false],
    ['', false],
  ])('%s → %s', (address, expected) => {
    expect(trust(address)).toBe(expected);
  });

  it('trusts everything with 0.0.0.0/0 and nothing with an empty list', () => {
    expect(compileTrustedProxies(['0.0.0.0/0'])('203.0.113.9')).toBe(true);
    expect(compileTrustedProxies([])('127.0.0.1')).toBe(false);
  });

  it('refuses a malformed range', () => {
    expect(() => compileTrustedProxies(['10.0.0/8'])).toThrow('"10.0.0/8" is not an IPv4 address or range');
  });
});
