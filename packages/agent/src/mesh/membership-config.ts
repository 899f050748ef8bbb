import type { MemberState, MembershipOptions } from './contracts.ts';

// Memberlist's LAN defaults (DefaultLANConfig), but for a shorter suspicion window, and the few timings
// this implementation adds.

export const MEMBERSHIP_DEFAULTS = {
  probeIntervalMs: 1000,
  probeTimeoutMs: 500,
  indirectChecks: 3,
  /** Memberlist's 4 left 10 kills at 1,000 nodes dead everywhere after 16.7 s (simulated); 3 gives 13.7 s,
   * with no false death under 10 % loss (npm run bench:mesh-sim). */
  suspicionMult: 3,
  retransmitMult: 4,
  /** About 2.5 KB of updates: room for a join storm of 1,000 nodes to settle within 15 s. */
  maxUpdatesPerMessage: 32,
} as const;

export type MembershipConfig = { -readonly [K in keyof typeof MEMBERSHIP_DEFAULTS]: number };

/** Gossip-only pings go to this many random members every probe interval / GOSSIP_PER_PROBE while changes wait. */
export const GOSSIP_NODES = 3;
export const GOSSIP_PER_PROBE = 5;
/** A dead member is asked to rejoin every this many probe intervals (so a healed partition reunites)... */
export const RECONNECT_PROBES = 10;
/** ...until its tombstone is this old; then it is forgotten. */
export const TOMBSTONE_MS = 24 * 3600_000;
/** This many probe intervals after start a node pulls the member list once more from a random member:
 * a change it missed while gossip was saturated (a join storm) is not left to the round-robin probes. */
export const RESYNC_PROBES = 10;
/** Most indirect probes this node runs for others at once. */
export const MAX_RELAYS = 256;

export function membershipConfig(options: MembershipOptions): MembershipConfig {
  const config: MembershipConfig = { ...MEMBERSHIP_DEFAULTS };
  for (const key of Object.keys(MEMBERSHIP_DEFAULTS) as (keyof MembershipConfig)[]) {
    const value = options[key];
    if (typeof value === 'number' && Number.isFinite(value) && value > 0) config[key] = value;
  }
  config.maxUpdatesPerMessage = Math.max(1, Math.floor(config.maxUpdatesPerMessage));
  config.indirectChecks = Math.floor(config.indirectChecks);
  return config;
}

/** How a node logs a member's change of state: the level and the words after the member's name. */
export function memberChangeLine(
  state: MemberState,
  previous: MemberState | undefined,
): { level: 'info' | 'warn'; text: string } {
  const text = {
    alive: previous ? 'is alive again' : 'joined',
    suspect: 'is suspected',
    dead: 'is dead',
    left: 'left',
  };
  return { level: state === 'suspect' || state === 'dead' ? 'warn' : 'info', text: text[state] };
}
