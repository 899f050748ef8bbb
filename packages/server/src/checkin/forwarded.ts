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
 * The bucket of a check-in for the per-address rate limit. Without `--trusted-proxies`, a peer that
 * forwards for others is most likely a proxy nobody has declared yet: each address it forwards for
 * gets its own bucket (peer and address together), so one fleet behind it is not one bucket. Once
 * proxies are declared, a forwarded address is believed only from them, and any other peer is
 * limited as itself whatever it claims. Without trusted proxies `clientIp` is the peer.
 */
export function rateLimitKey(clientIp: string, forwardedFor: string | string[] | undefined, trusted: Trusted): string {
  if (forwardedFor === undefined || trusted !== null) return clientIp;
  const list = Array.isArray(forwardedFor) ? (forwardedFor[forwardedFor.length - 1] ?? '') : forwardedFor;
  const hop = list.slice(list.lastIndexOf(',') + 1).trim();
  // Only an address becomes part of a key, so keys stay short whatever the header holds.
  if (hop.length < 2 || hop.length > 45) return clientIp;
  const isAddress = hop.includes(':') ? parseV6(hop, scratch) : parseV4(hop, 0, hop.length) >= 0;
  return isAddress ? `${clientIp} ${hop}` : clientIp;
}

/**
 * Counts check-ins that carry `X-Forwarded-For` from an untrusted peer and logs the first, once per
 * process: behind an undeclared proxy every client looks like the proxy (location, rate limit).
 */
export function untrustedForwardWarning(logger: Logger, metrics: Metrics, trustConfigured: boolean) {
  let warned = false;
  return (count = 1) => {
    metrics.checkinsUntrustedForwarded.inc(count);
    if (warned) return;
    warned = true;
    logger.warn(
      trustConfigured
        ? 'check-ins arrive with X-Forwarded-For from a peer outside --trusted-proxies: their forwarded address is ignored, so they are located and rate-limited as that peer. If a proxy sends them, add its address to --trusted-proxies (FLOTILLA_TRUSTED_PROXIES).'
        : 'check-ins arrive with X-Forwarded-For but --trusted-proxies is not set: they are located as the proxy, and rate-limited per forwarded address, which any client can claim. Set --trusted-proxies (FLOTILLA_TRUSTED_PROXIES) to the address range of the proxy or load balancer in front of this server.',
    );
  };
}
