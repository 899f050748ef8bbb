import { describe, expect, it } from 'vitest';
import { compileTrustedProxies } from '../http/trusted-proxies.ts';
import { appendForwardedFor, clientAddress } from './client-address.ts';

describe('clientAddress', () => {
  const trusted = compileTrustedProxies(['127.0.0.0/8', '10.0.0.0/8']);

  it('uses the peer unless the peer is a trusted proxy', () => {
    expect(clientAddress('203.0.113.9', '198.51.100.1', trusted)).toBe('203.0.113.9');
    expect(clientAddress('127.0.0.1', undefined, trusted)).toBe('127.0.0.1');
    expect(clientAddress('127.0.0.1', '198.51.100.1', null)).toBe('127.0.0.1');
  });

  it('takes the right-most untrusted hop of X-Forwarded-For', () => {
    expect(clientAddress('127.0.0.1', '1.1.1.1, 198.51.100.1, 10.1.2.3', trusted)).toBe('198.51.100.1');
    expect(clientAddress('127.0.0.1', '10.0.0.1, 10.0.0.2', trusted)).toBe('10.0.0.1');
    expect(clientAddress('127.0.0.1', ['1.1.1.1, 198.51.100.1', '10.1.2.3'], trusted)).toBe('198.51.100.1');
  });

  it('appends the peer as the last hop for the main thread', () => {
    expect(appendForwardedFor(undefined, '203.0.113.9')).toBe('203.0.113.9');
    expect(appendForwardedFor(['1.1.1.1', '2.2.2.2'], '127.0.0.1')).toBe('1.1.1.1, 2.2.2.2, 127.0.0.1');
  });
});
