import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { compileTrustedProxies } from '../http/trusted-proxies.ts';
import { createMetrics } from '../metrics/metrics.ts';
import {
  bucketAddress,
  forwardedAddress,
  isUntrustedForward,
  rateLimitKey,
  untrustedForwardWarning,
} from './forwarded.ts';

describe('rateLimitKey', () => {
  it('is the client address when nothing is forwarded', () => {
    expect(rateLimitKey('203.0.113.9', undefined, null)).toBe('203.0.113.9');
  });

  it('without --trusted-proxies, pairs the peer with the last forwarded address', () => {
    expect(rateLimitKey('10.0.0.5', '1.1.1.1, 198.51.100.1', null)).toBe('10.0.0.5 198.51.100.1');
    expect(rateLimitKey('10.0.0.5', ['1.1.1.1', '2001:db8::1'], null)).toBe('10.0.0.5 2001:db8:0:0::/64');
  });

  it('strips the port and brackets some load balancers add to the forwarded address', () => {
    expect(rateLimitKey('10.0.0.5', '1.1.1.1, 198.51.100.1:5678', null)).toBe('10.0.0.5 198.51.100.1');
    expect(rateLimitKey('10.0.0.5', '[2001:db8:1:2::1]:443', null)).toBe('10.0.0.5 2001:db8:1:2::/64');
    expect(rateLimitKey('10.0.0.5', '[2001:db8:1:2::1]', null)).toBe('10.0.0.5 2001:db8:1:2::/64');
  });

  it('keeps IPv6 clients to their /64 and IPv4-mapped ones to IPv4', () => {
    expect(rateLimitKey('2001:db8:1:2:aaaa::1', undefined, null)).toBe('2001:db8:1:2::/64');
    expect(rateLimitKey('::ffff:203.0.113.9', '2001:db8::7', null)).toBe('203.0.113.9 2001:db8:0:0::/64');
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

describe('forwardedAddress', () => {
  it('gives the address of an entry with or without a port', () => {
    expect(forwardedAddress('198.51.100.1')).toBe('198.51.100.1');
    expect(forwardedAddress('198.51.100.1:5678')).toBe('198.51.100.1');
    expect(forwardedAddress('2001:db8::1')).toBe('2001:db8::1');
    expect(forwardedAddress('[2001:db8::1]')).toBe('2001:db8::1');
    expect(forwardedAddress('[2001:db8::1]:443')).toBe('2001:db8::1');
    expect(forwardedAddress('[::ffff:1.2.3.4]:65535')).toBe('::ffff:1.2.3.4');
  });

  it('is empty for anything else', () => {
    for (const hop of [
      '',
      'unknown',
      '198.51.100.1:',
      '198.51.100.1:x',
      '198.51.100.1:65536',
      '198.51.100.1:123456',
      '[2001:db8::1',
      '[2001:db8::1]x',
      '[2001:db8::1]:',
      '[198.51.100.1:80]',
      'host.example:80',
      `[${'1:'.repeat(20)}1]:80`,
    ]) {
      expect(forwardedAddress(hop), hop).toBe('');
    }
  });
});

describe('bucketAddress', () => {
  it('is IPv4 as it is, IPv6 by its /64, and anything else as it is', () => {
    expect(bucketAddress('203.0.113.9')).toBe('203.0.113.9');
    expect(bucketAddress('::ffff:203.0.113.9')).toBe('203.0.113.9');
    expect(bucketAddress('2001:DB8:0:ff::1')).toBe('2001:db8:0:ff::/64');
    expect(bucketAddress('::1')).toBe('0:0:0:0::/64');
    expect(bucketAddress('not-an-address')).toBe('not-an-address');
  });
});

describe('untrustedForwardWarning', () => {
  it('warns once for every caller with the same metrics, and counts only check-ins', async () => {
    const lines: Array<{ msg: string }> = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const metrics = createMetrics();
    const http = untrustedForwardWarning(logger, metrics, false);
    const threads = untrustedForwardWarning(logger, metrics, false);
    http.request();
    threads.checkins(3);
    http.checkins();
    expect(lines.map((l) => l.msg)).toHaveLength(1);
    expect(lines[0]?.msg).toContain("sign-in lockouts and the setup-code limit key on the proxy's address");
    const counted = await metrics.registry.getSingleMetric('flotilla_checkins_untrusted_forwarded_total')?.get();
    expect(counted?.values[0]?.value).toBe(4);
    // Another server (its own metrics) warns on its own.
    untrustedForwardWarning(logger, createMetrics(), true).request();
    expect(lines).toHaveLength(2);
    expect(lines[1]?.msg).toContain('locked out (sign-in, setup code) as that peer');
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
