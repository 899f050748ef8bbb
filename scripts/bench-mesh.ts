// Real `flotilla mesh` nodes in Linux network namespaces (two groups behind a router namespace, see
// packages/cli/src/mesh-netns.test.helper.ts): convergence, detection of a SIGKILLed node, 10 % random
// loss between the groups (iptables statistic), a partition (iptables DROP) and its healing, request
// round trips and bytes sent per node. Needs root, `ip netns` and iptables; delay needs `tc netem`.
//
//   npm run bench:mesh [-- --per-group 10] [--loss 0.1] [--loss-seconds 60] [--delay-ms 5]
//
// The same scenario runs as a test (packages/cli/src/mesh-netns.test.ts). The protocol at 1,000 nodes
// in one simulated process is `npm run bench:mesh-sim`. Figures: docs/benchmarks.md.
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import {
  createLab,
  labUnsupported,
  netemUnsupported,
  removeStaleLabs,
} from '../packages/cli/src/mesh-netns.test.helper.ts';
import {
  converge,
  killOne,
  lossFromSlowShare,
  partitionAndHeal,
  STABLE_MS,
  sampledRtt,
  watch,
} from '../packages/cli/src/mesh-netns-phases.test.helper.ts';

const { values: args } = parseArgs({
  options: {
    'per-group': { type: 'string', default: '10' },
    loss: { type: 'string', default: '0.1' },
    'loss-seconds': { type: 'string', default: '60' },
    'delay-ms': { type: 'string', default: '5' },
    help: { type: 'boolean', default: false },
  },
});
const simBench = existsSync(new URL('./bench-mesh-sim.ts', import.meta.url));
if (args.help) {
  console.log(`npm run bench:mesh -- [--per-group 10] [--loss 0.1] [--loss-seconds 60] [--delay-ms 5]
  --per-group     nodes in each of the two groups (default 10: 20 nodes)
  --loss          share of packets dropped between the groups, both directions (default 0.1)
  --loss-seconds  how long the loss lasts (default 60)
  --delay-ms      delay added between the groups where tc netem works (default 5)
Needs root, ip netns and iptables.${simBench ? '\nThe 1,000-node protocol simulation: npm run bench:mesh-sim' : ''}`);
  process.exit(0);
}
const perGroup = Number(args['per-group']);
const lossP = Number(args.loss);
const lossMs = Number(args['loss-seconds']) * 1000;
const delayMs = Number(args['delay-ms']);

const unsupported = labUnsupported();
if (unsupported) {
  console.error(`bench:mesh cannot run here: ${unsupported}`);
  process.exit(2);
}
const stale = removeStaleLabs();
if (stale.length > 0) console.log(`removed stale namespaces of killed runs: ${stale.join(', ')}`);

const s = (ms: number | undefined) => (ms === undefined ? 'not within the bound' : `${(ms / 1000).toFixed(1)} s`);
const us = (seconds: number | undefined) => (seconds === undefined ? 'n/a' : `${(seconds * 1e6).toFixed(0)} µs`);
const pct = (x: number) => `${(x * 100).toFixed(1)} %`;

const lab = createLab({ perGroup });
try {
  console.log(`mesh in network namespaces: ${perGroup * 2} nodes, groups a and b behind a router namespace`);
  const up = await converge(lab, 180_000);
  console.log(
    `convergence: all ${lab.nodes.length} nodes see all others alive ${s(up.ms)} after start (the last node's ports opened at ${s(up.lastReadyMs)}: processes start from sources)`,
  );
  if (up.apiMismatches.length > 0) console.log(`  API lists differ on: ${up.apiMismatches.join(', ')}`);

  // Summaries are per minute and closed 10 s after it ends: wait for one minute wholly after convergence.
  const minuteEnd = (Math.floor(Date.now() / 60_000) + 2) * 60_000;
  const via = lab.nodes[0];
  if (!via) throw new Error('no nodes');
  await sleep(Math.max(0, minuteEnd + 15_000 - Date.now()));
  const across = await sampledRtt(lab, via, true, minuteEnd);
  const within = await sampledRtt(lab, via, false, minuteEnd);
  console.log(
    `  request RTT from /api/v1/samples (minute ending ${across.minute}, ${across.pairs} pairs across, ${within.pairs} within): across p50 ${us(across.p50)} (median of pair medians), p99 ${us(across.p99)} (largest pair p99); within p50 ${us(within.p50)}, p99 ${us(within.p99)}`,
  );

  const steady = await watch(lab, 15_000);
  const b = steady.bytesPerNodePerSecond;
  console.log(
    `steady state (15 s): bytes sent per node per round (1 s, IP level, membership + probes; the mean of ${lab.nodes.length} nodes): ${b.toFixed(0)}`,
  );
  console.log(
    `  request RTT buckets (upper bounds): across groups p50 ≤ ${us(steady.across.p50)}, p99 ≤ ${us(steady.across.p99)}; within a group p50 ≤ ${us(steady.within.p50)}, p99 ≤ ${us(steady.within.p99)}`,
  );
  const victim = lab.nodes[lab.nodes.length - 1];
  if (!victim) throw new Error('no nodes');
  const kill = await killOne(lab, victim, 60_000);
  const times = [...kill.perNode.values()].filter((t): t is number => t !== undefined).sort((p, q) => p - q);
  console.log(
    `SIGKILL of ${kill.victim}: first suspicion ${s(kill.firstSuspectMs)}, declared dead by all ${kill.perNode.size} others ${s(kill.allMs)} (per node: min ${s(times[0])}, median ${s(times[Math.floor(times.length / 2)])}, max ${s(times[times.length - 1])})`,
  );

  const lossStart = Date.now();
  lab.loss(lossP);
  const lossy = await watch(lab, lossMs);
  const injected = lab.lossCounters();
  lab.loss(0);
  const lossEnd = Date.now();
  console.log(
    `${pct(lossP)} random loss between the groups for ${lossMs / 1000} s: injected ${pct(injected.dropped / Math.max(1, injected.seen))} of ${injected.seen} packets; false deaths ${lossy.deaths.length}, suspicions ${lossy.suspicions}`,
  );
  for (const d of lossy.deaths) console.log(`  false death: ${d.observer} declared ${d.peer} dead at +${s(d.at)}`);
  console.log(
    `  request probes across: ${lossy.across.probes}, slower than 100 ms (a retransmission): ${pct(lossy.across.slow / Math.max(1, lossy.across.probes))} → per-packet loss ${pct(lossFromSlowShare(lossy.across.slow / Math.max(1, lossy.across.probes)))}; within a group: ${pct(lossy.within.slow / Math.max(1, lossy.within.probes))} of ${lossy.within.probes}`,
  );
  // The latest closed minute overlaps the loss only in part (summaries are per minute).
  const lossSamples = await sampledRtt(lab, via, true);
  const minuteTo = Date.parse(lossSamples.minute ?? '');
  const overlap = Math.max(0, Math.min(minuteTo, lossEnd) - Math.max(minuteTo - 60_000, lossStart));
  console.log(
    `  failed request probes the samples report across the groups: ${pct(lossSamples.failedShare)} (minute ending ${lossSamples.minute}, ${(overlap / 1000).toFixed(0)} s of it under loss, ${lossSamples.pairs} pairs)`,
  );

  const part = await partitionAndHeal(lab, { seenMs: 60_000, deadMs: 60_000, healMs: 90_000 });
  console.log(
    `partition (DROP between the groups): seen from both sides (suspect or dead) ${s(part.seenMs)}, all dead ${s(part.deadMs)}; healed (all alive, then ${STABLE_MS / 1000} s without a change) ${s(part.healedMs)} after the DROP was removed`,
  );
  for (const line of part.notSeen) console.log(`  not seen: ${line}`);
  for (const line of part.notHealed) console.log(`  not healed: ${line}`);
  console.log(
    `  declared dead by their own side during the partition: ${part.sameSideDeaths.length}; deaths logged while healing (a dead rumour from the other side, until refuted): ${part.deathsWhileHealing}`,
  );

  const why = netemUnsupported();
  if (why) console.log(`added delay: not measured here (${why})`);
  else {
    const failed = lab.addDelay(delayMs);
    if (failed) console.log(`added delay: could not add ${delayMs} ms (${failed})`);
    else {
      const end = (Math.floor(Date.now() / 60_000) + 2) * 60_000;
      await sleep(end + 15_000 - Date.now());
      const delayed = await sampledRtt(lab, via, true, end);
      console.log(`added delay ${delayMs} ms between the groups: request RTT across p50 ${us(delayed.p50)}`);
    }
  }
  if (simBench) console.log('the protocol at 1,000 nodes (one process, simulated network): npm run bench:mesh-sim');
} finally {
  await lab.destroy();
}
