import { MEMBERSHIP_DEFAULTS } from '../membership-config.ts';
import { type Cluster, createCluster, type SimNode } from './cluster.ts';

// The protocol simulation's scenarios, shared by the tests and scripts/bench-mesh-sim.ts. All times are
// simulated milliseconds; runs are deterministic for a given seed.

const ROUND_MS = MEMBERSHIP_DEFAULTS.probeIntervalMs;

/** Starts n nodes, one every `staggerMs`, each joining through a random node already joined; measures
 * how long after the last join every live node sees every other alive (undefined: not within `limitMs`). */
export function joinScenario(options: {
  n: number;
  seed: number;
  staggerMs?: number;
  loss?: number;
  limitMs?: number;
}) {
  const staggerMs = options.staggerMs ?? 5;
  const cluster = createCluster({ n: options.n, seed: options.seed, network: { loss: options.loss ?? 0 } });
  cluster.joinAll(staggerMs);
  cluster.clock.runUntil((options.n - 1) * staggerMs);
  const lastJoin = cluster.clock.now();
  const converged = cluster.clock.runUntilTrue(() => cluster.converged(), options.limitMs ?? 60_000);
  return { cluster, convergedAfterMs: converged ? cluster.clock.now() - lastJoin : undefined, lastJoin };
}

/** Bytes (JSON length) each live node sends per probe round, over `windowMs` after `settleMs` of quiet. */
export function bytesPerRound(cluster: Cluster, settleMs = 30_000, windowMs = 30_000) {
  cluster.clock.advance(settleMs);
  cluster.network.resetCounters();
  cluster.clock.advance(windowMs);
  const totals = cluster.network.totals();
  const nodeRounds = cluster.live().length * (windowMs / ROUND_MS);
  return { bytes: totals.bytes / nodeRounds, messages: totals.messages / nodeRounds };
}

/** Kills `count` random nodes (never node 0); measures how long until every live node holds all dead. */
export function killScenario(cluster: Cluster, count: number, limitMs = 120_000) {
  const victims: SimNode[] = [];
  while (victims.length < count) {
    const node = cluster.nodes[1 + Math.floor(cluster.random() * (cluster.nodes.length - 1))] as SimNode;
    if (node.up && !victims.includes(node)) victims.push(node);
  }
  for (const node of victims) cluster.kill(node.index);
  const start = cluster.clock.now();
  const names = victims.map((node) => node.name);
  // First moment some live node suspects a victim: failure detection proper.
  let detectedAfterMs: number | undefined;
  const everyoneDead = cluster.clock.runUntilTrue(() => {
    if (detectedAfterMs === undefined && cluster.live().some((o) => names.some((v) => o.view.get(v) === 'suspect'))) {
      detectedAfterMs = cluster.clock.now() - start;
    }
    return cluster.allSee(names, ['dead']);
  }, limitMs);
  return { victims, detectedAfterMs, allDeadAfterMs: everyoneDead ? cluster.clock.now() - start : undefined };
}

/** Splits the cluster into two halves until each sees the other dead, then heals until all are alive again. */
export function partitionScenario(cluster: Cluster, limitMs = 120_000) {
  const half = Math.floor(cluster.nodes.length / 2);
  const a = cluster.live().filter((node) => node.index < half);
  const b = cluster.live().filter((node) => node.index >= half);
  cluster.network.partition([a.map((node) => node.address), b.map((node) => node.address)]);
  const start = cluster.clock.now();
  const names = (side: SimNode[]) => side.map((node) => node.name);
  const seen = cluster.clock.runUntilTrue(
    () => cluster.allSee(names(b), ['dead'], a) && cluster.allSee(names(a), ['dead'], b),
    limitMs,
  );
  const seenAfterMs = seen ? cluster.clock.now() - start : undefined;
  cluster.network.heal();
  const healStart = cluster.clock.now();
  const healed = cluster.clock.runUntilTrue(() => cluster.converged(), limitMs);
  return { seenAfterMs, healedAfterMs: healed ? cluster.clock.now() - healStart : undefined };
}
