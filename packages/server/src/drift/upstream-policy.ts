import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { UpstreamError } from './upstreams/fetcher.ts';

// Upstream references come from agents, so the server must not become a proxy into its own network:
// URLs an agent names (Helm repositories, image registries, token realms) are checked before each request.

export interface UpstreamPolicyOptions {
  /**
   * Hosts (`charts.internal`, `registry.local:5000`, `127.0.0.1:8080`) that may be reached over plain HTTP
   * and at private addresses. Without a port, every port of the host.
   */
  allowHosts?: readonly string[];
  /** Resolves a host name to its addresses (tests replace it). */
  resolve?: (host: string) => Promise<string[]>;
}

// Loopback, private, link-local (cloud metadata), CGNAT, multicast and reserved ranges: never an upstream.
const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 3],
] as const)
  blocked.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['64:ff9b::', 96],
] as const)
  blocked.addSubnet(net, prefix, 'ipv6');

/** Whether an address is one no agent-named upstream may resolve to. */
export function isBlockedAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return blocked.check(address, 'ipv4');
  if (family !== 6) return true;
  // IPv4-mapped (`::ffff:10.0.0.1`) is checked as the IPv4 address it is.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1]) return blocked.check(mapped[1], 'ipv4');
  return blocked.check(address, 'ipv6');
}

const defaultResolve = async (host: string) =>
  (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

export interface UpstreamPolicy {
  /** Throws an `UpstreamError` of kind `refused` when the URL may not be requested; resolves otherwise. */
  check(url: URL): Promise<void>;
  /** Whether a host (with its port, if any) is on the allow list. */
  allowed(host: string): boolean;
}

export function createUpstreamPolicy(options: UpstreamPolicyOptions = {}): UpstreamPolicy {
  const allow = new Set((options.allowHosts ?? []).map((h) => h.trim().toLowerCase()).filter(Boolean));
  const resolve = options.resolve ?? defaultResolve;
  const allowed = (host: string) => {
    const h = host.toLowerCase();
    return allow.has(h) || allow.has(h.replace(/:\d+$/, ''));
  };
  return {
    allowed,
    async check(url) {
      const refuse = (why: string): never => {
        throw new UpstreamError('refused', url.href, `refused by the upstream policy: ${why}`);
      };
      if (url.protocol !== 'https:' && url.protocol !== 'http:') refuse(`scheme ${url.protocol} is not https`);
      if (url.username || url.password) refuse('credentials in the URL');
      if (allowed(url.host)) return;
      if (url.protocol !== 'https:') refuse(`plain HTTP to ${url.host} (only hosts on --drift-upstream-allow-host)`);
      const hostname = url.hostname.replace(/^\[|\]$/g, '');
      let addresses: string[];
      if (isIP(hostname)) addresses = [hostname];
      else {
        try {
          addresses = await resolve(hostname);
        } catch (error) {
          throw new UpstreamError('network', url.href, `cannot resolve ${hostname}: ${(error as Error).message}`);
        }
      }
      if (addresses.length === 0) refuse(`${hostname} has no address`);
      const bad = addresses.find(isBlockedAddress);
      if (bad !== undefined) {
        refuse(
          `${hostname} resolves to ${bad}, a loopback, private or link-local address (allow it with --drift-upstream-allow-host)`,
        );
      }
    },
  };
}
