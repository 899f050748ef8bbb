import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { parseV4, parseV6 } from '../geo/ip-address.ts';
import type { Metrics } from '../metrics/metrics.ts';

type Trusted = ((address: string) => boolean) | null;

/** True when a request carries `X-Forwarded-For` from a peer that `--trusted-proxies` does not name. */
export function isUntrustedForward(peer: string, forwardedFor: string | string[] | undefined, trusted: Trusted) {
  return forwardedFor !== undefined && !trusted?.(peer);
}

const scratch = new Uint16Array(8);

/**
 * An address as a rate-limit bucket: IPv4 as it is, IPv4-mapped IPv6 as IPv4, and IPv6 as its /64,
 * which one host usually holds whole. Anything else is returned as it is.
 */
export function bucketAddress(ip: string): string {
  if (ip.indexOf(':') === -1 || !parseV6(ip, scratch)) return ip;
  const w = scratch;
  if (w[0] === 0 && w[1] === 0 && w[2] === 0 && w[3] === 0 && w[4] === 0 && w[5] === 0xffff) {
    const v4 = (w[6] as number) * 0x10000 + (w[7] as number);
    return `${v4 >>> 24}.${(v4 >>> 16) & 255}.${(v4 >>> 8) & 255}.${v4 & 255}`;
  }
  return `${(w[0] as number).toString(16)}:${(w[1] as number).toString(16)}:${(w[2] as number).toString(16)}:${(w[3] as number).toString(16)}::/64`;
}

/**
 * The address in one `X-Forwarded-For` entry, without the port or brackets some load balancers add
 * (`1.2.3.4:5678`, `[2001:db8::1]:443`); "" when the entry is not an address.
 */
export function forwardedAddress(hop: string): string {
  // Only an address becomes part of a key, so keys stay short whatever the header holds.
  if (hop.length < 2 || hop.length > 53) return '';
  let address = hop;
  if (hop.charCodeAt(0) === 91) {
    const close = hop.indexOf(']');
    if (close < 0 || !isPortSuffix(hop, close + 1)) return '';
    address = hop.slice(1, close);
  } else {
    const colon = hop.indexOf(':');
    if (colon >= 0 && colon === hop.lastIndexOf(':')) {
      if (!isPortSuffix(hop, colon)) return '';
      address = hop.slice(0, colon);
    }
  }
  if (address.length < 2 || address.length > 45) return '';
  const ok = address.includes(':') ? parseV6(address, scratch) : parseV4(address, 0, address.length) >= 0;
  return ok ? address : '';
}

/** True when hop[from..] is empty or ":" and a port number. */
function isPortSuffix(hop: string, from: number): boolean {
  if (from === hop.length) return true;
  const digits = hop.length - from - 1;
  if (hop.charCodeAt(from) !== 58 || digits < 1 || digits > 5) return false;
  for (let i = from + 1; i < hop.length; i++) {
    const c = hop.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return Number(hop.slice(from + 1)) <= 65535;
}

/**
 * The bucket of a check-in for the per-address rate limit. Without `--trusted-proxies`, a peer that
 * forwards for others is most likely a proxy nobody has declared yet: each address it forwards for
 * gets its own bucket ("peer address"), so one fleet behind it is not one bucket; RateWindow also
 * caps the peer's total, as any client can claim any address. Once proxies are declared, a forwarded
 * address is believed only from them, and any other peer is limited as itself whatever it claims.
 * Without trusted proxies `clientIp` is the peer.
 */
export function rateLimitKey(clientIp: string, forwardedFor: string | string[] | undefined, trusted: Trusted): string {
  const client = bucketAddress(clientIp);
  if (forwardedFor === undefined || trusted !== null) return client;
  const list = Array.isArray(forwardedFor) ? (forwardedFor[forwardedFor.length - 1] ?? '') : forwardedFor;
  const hop = forwardedAddress(list.slice(list.lastIndexOf(',') + 1).trim());
  return hop ? `${client} ${bucketAddress(hop)}` : client;
}

interface ForwardWarning {
  /** Counts `count` check-ins with X-Forwarded-For from an untrusted peer, and warns once. */
  checkins(count?: number): void;
  /** Any other request with X-Forwarded-For from an untrusted peer: warns once. */
  request(): void;
}

// One warning per server, whichever of its threads or routes sees such a request first.
const warnings = new WeakMap<Metrics, ForwardWarning>();

/**
 * Warns, once per server, that requests arrive with `X-Forwarded-For` from an untrusted peer: behind
 * an undeclared proxy every client looks like the proxy (location, rate limit, sign-in lockouts).
 * Every caller with the same metrics shares the once-flag.
 */
export function untrustedForwardWarning(logger: Logger, metrics: Metrics, trustConfigured: boolean): ForwardWarning {
  const existing = warnings.get(metrics);
  if (existing) return existing;
  let warned = false;
  const warn = () => {
    if (warned) return;
    warned = true;
    logger.warn(trustConfigured ? untrustedPeerMessage : noTrustedProxiesMessage);
  };
  const warning: ForwardWarning = {
    checkins(count = 1) {
      metrics.checkinsUntrustedForwarded.inc(count);
      warn();
    },
    request: warn,
  };
  warnings.set(metrics, warning);
  return warning;
}

/**
 * An onRequest hook that warns (once, shared with the check-in paths) of any request with
 * `X-Forwarded-For` from a peer outside `--trusted-proxies`. Behind check-in threads the thread
 * appended the real peer as the last hop, so the client sent the header itself only when there is an earlier one.
 */
export function warnOfUntrustedForward(warn: () => void, trusted: Trusted, behindCheckinThreads: boolean) {
  return (request: FastifyRequest, _reply: FastifyReply, done: () => void) => {
    const forwardedFor = request.headers['x-forwarded-for'];
    const peer = request.socket.remoteAddress;
    if (forwardedFor === undefined) return done();
    if (peer) {
      if (isUntrustedForward(peer, forwardedFor, trusted)) warn();
    } else if (behindCheckinThreads) {
      const list = Array.isArray(forwardedFor) ? forwardedFor.join(', ') : forwardedFor;
      const comma = list.lastIndexOf(',');
      if (comma >= 0 && !trusted?.(list.slice(comma + 1).trim())) warn();
    }
    done();
  };
}

export const untrustedPeerMessage =
  'requests arrive with X-Forwarded-For from a peer outside --trusted-proxies: their forwarded address is ignored, so their clients are located, rate-limited and locked out (sign-in, setup code) as that peer. If a proxy sends them, add its address to --trusted-proxies (FLOTILLA_TRUSTED_PROXIES).';

export const noTrustedProxiesMessage =
  "requests arrive with X-Forwarded-For but --trusted-proxies is not set: check-ins are located as the proxy and rate-limited per forwarded address, which any client can claim (so each proxy's total is capped at 100 times --rate-limit), and sign-in lockouts and the setup-code limit key on the proxy's address, so one client can lock out all. Set --trusted-proxies (FLOTILLA_TRUSTED_PROXIES) to the address range of the proxy or load balancer in front of this server.";
