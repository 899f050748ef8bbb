import { describe, expect, it } from 'vitest';
import { createUpstreamPolicy, isBlockedAddress } from './upstream-policy.ts';

const resolvingTo =
  (...addresses: string[]) =>
  async () =>
    addresses;

describe('the upstream policy', () => {
  it.each([
    '127.0.0.1',
    '10.1.2.3',
    '172.16.0.1',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '::1',
    '::',
    'fe80::1',
    'fd00::1',
    '::ffff:10.0.0.1',
    '::ffff:127.0.0.1',
  ])('blocks %s', (address) => {
    expect(isBlockedAddress(address)).toBe(true);
  });

  it.each(['140.82.112.3', '8.8.8.8', '2606:4700::1111'])('lets %s through', (address) => {
    expect(isBlockedAddress(address)).toBe(false);
  });

  it('refuses plain HTTP, private resolutions and URL credentials; allows public https', async () => {
    const policy = createUpstreamPolicy({ resolve: resolvingTo('140.82.112.3') });
    await expect(policy.check(new URL('https://charts.example.com/stable'))).resolves.toBeUndefined();
    await expect(policy.check(new URL('http://charts.example.com/'))).rejects.toMatchObject({ kind: 'refused' });
    await expect(policy.check(new URL('https://u:p@charts.example.com/'))).rejects.toThrow(/credentials/);
    await expect(policy.check(new URL('ftp://charts.example.com/'))).rejects.toThrow(/scheme/);

    // One private address among several is enough to refuse (the connection could use it).
    const split = createUpstreamPolicy({ resolve: resolvingTo('140.82.112.3', '10.0.0.7') });
    await expect(split.check(new URL('https://internal.example.com/'))).rejects.toThrow(/10\.0\.0\.7/);
    await expect(split.check(new URL('https://[::1]:8443/'))).rejects.toThrow(/loopback/);
  });

  it('lets allowed hosts through over HTTP and at private addresses, by host or host:port', async () => {
    const policy = createUpstreamPolicy({
      allowHosts: ['registry.internal', '127.0.0.1:5000'],
      resolve: resolvingTo('10.0.0.7'),
    });
    await expect(policy.check(new URL('http://registry.internal:8080/v2/'))).resolves.toBeUndefined();
    await expect(policy.check(new URL('http://127.0.0.1:5000/v2/'))).resolves.toBeUndefined();
    await expect(policy.check(new URL('http://127.0.0.1:5001/v2/'))).rejects.toMatchObject({ kind: 'refused' });
    await expect(policy.check(new URL('https://other.internal/'))).rejects.toMatchObject({ kind: 'refused' });
  });
});
