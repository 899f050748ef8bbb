import { describe, expect, it } from 'vitest';
import { compileTrustedProxies } from '../http/trusted-proxies.ts';
import { isUntrustedForward, rateLimitKey } from './forwarded.ts';

describe('rateLimitKey', () => {
  it('is the client address when nothing is forwarded', () => {
    expect(rateLimitKey('203.0.113.9', undefined, null)).toBe('203.0.113.9');
  });

  it('without --trusted-proxies, pairs the peer with the last forwarded address', () => {
    expect(rateLimitKey('10.0.0.5', '1.1.1.1, 198.51.100.1', null)).toBe('10.0.0.5 198.51.100.1');
    expect(rateLimitKey('10.0.0.5', ['1.1.1.1', '2001:db8::1'], null)).toBe('10.0.0.5 2001:db8::1');
  });

  it('keeps the peer alone when the last hop is not an address, so keys stay short', () => {
    expect(rateLimitKey('10.0.0.5', 'unknown', null)).toBe('10.0.0.5');
    expect(rateLimitKey('10.0.0.5', `1.1.1.1, ${'9'.repeat(5000)}`, null)).toBe('10.0.0.5');
    expect(rateLimitKey('10.0.0.5', '', null)).toBe('10.0.0.5');
  });

  it('with --trusted-proxies, is the client address as the trusted chain gives it, whatever others claim', () => {
    const trusted = compileTrustedProxies(['10.0.0.0/8']);
    expect(rateLimitKey('198.51.100.1', '198.51.100.1', trusted)).toBe('198.51.100.1');
    expect(rateLimitKey('192.0.2.7', '198.51.100.1', trusted)).toBe('192.0.2.7');
  });
});

describe('isUntrustedForward', () => {
  it('is true only for X-Forwarded-For from a peer that is not a trusted proxy', () => {
    const trusted = compileTrustedProxies(['10.0.0.0/8']);
    expect(isUntrustedForward('10.0.0.5', '1.1.1.1', trusted)).toBe(false);
    expect(isUntrustedForward('192.0.2.7', '1.1.1.1', trusted)).toBe(true);
    expect(isUntrustedForward('192.0.2.7', undefined, trusted)).toBe(false);
    expect(isUntrustedForward('10.0.0.5', '1.1.1.1', null)).toBe(true);
  });
});
