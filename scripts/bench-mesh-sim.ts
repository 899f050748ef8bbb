// Mesh membership (SWIM) in a one-process protocol simulation: n nodes over a simulated network with a
// fixed seed (deterministic: the same figures on any machine; only the wall time varies).
//   1. joins: n nodes start 5 ms apart, each joining through a random node already joined; time from the
//      last join until every node sees every other alive (goal: 15 s);
//   2. bytes each node sends per probe round (JSON length), steady state, at every n (goal: flat);
//   3. kills: 10 random nodes stop; time until the first suspicion and until every live node holds all
//      ten dead;
//   4. a partition into halves (seen from both sides, then healed), and 10 % loss on every link at
//      n = 100 for 5 simulated minutes (goal: no false death).
//
//   npm run bench:mesh-sim [-- --sizes 100,300,1000] [--seed 2026]
//
// Prints PASS or MISSED per goal; exits non-zero only on errors. Figures: docs/benchmarks.md.
import { parseArgs } from 'node:util';
import {
  bytesPerRound,
  joinScenario,
  killScenario,
  partitionScenario,
} from '../packages/agent/src/mesh/simulation/scenarios.ts';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '100,300,1000' },
    seed: { type: 'string', default: '2026' },
    'partition-size': { type: 'string', default: '1000' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log(`npm run bench:mesh-sim -- [--sizes 100,300,1000] [--seed 2026] [--partition-size 1000]
  --sizes           mesh sizes to run joins, bytes and kills at (default 100,300,1000)
  --seed            seed of the simulation (default 2026)
  --partition-size  nodes in the partition run (default 1000; 0 skips it)`);
  process.exit(0);
}
const sizes = String(args.sizes).split(',').map(Number);
const seed = Number(args.seed);
const verdict = (ok: boolean, goal: string) => console.log(`  ${ok ? 'PASS' : 'MISSED'}: ${goal}`);
const s = (ms: number | undefined) => (ms === undefined ? 'never' : `${(ms / 1000).toFixed(1)} s`);
const wall = () => `${((performance.now() - started) / 1000).toFixed(1)} s wall`;
const started = performance.now();

console.log(
  `Mesh protocol simulation, seed ${seed}, memberlist LAN defaults (probe 1 s, timeout 500 ms, k = 3) but suspicion ×3`,
);
const rounds = new Map<number, number>();
for (const n of sizes) {
  const t = performance.now();
  const run = joinScenario({ n, seed });
  const bytes = bytesPerRound(run.cluster);
  rounds.set(n, bytes.bytes);
  const kill = killScenario(run.cluster, 10);
  const cpu = ((performance.now() - t) / 1000).toFixed(1);
  console.log(`n = ${n} (${cpu} s wall)`);
  console.log(`  joins: converged ${s(run.convergedAfterMs)} after the last join (${s(run.lastJoin)} of joins)`);
  console.log(
    `  steady state: ${bytes.bytes.toFixed(0)} bytes and ${bytes.messages.toFixed(2)} messages per node per round`,
  );
  console.log(
    `  10 kills: first suspicion after ${s(kill.detectedAfterMs)}, all dead everywhere after ${s(kill.allDeadAfterMs)}`,
  );
  verdict(
    run.convergedAfterMs !== undefined && run.convergedAfterMs <= 15_000,
    `joins converge within 15 s at n = ${n}`,
  );
  verdict(
    kill.allDeadAfterMs !== undefined && kill.allDeadAfterMs <= 15_000,
    `10 kills dead everywhere within 15 s at n = ${n}`,
  );
}
const smallest = rounds.get(Math.min(...sizes));
const largest = rounds.get(Math.max(...sizes));
if (smallest && largest && sizes.length > 1) {
  const factor = largest / smallest;
  console.log(`bytes per node per round: ${[...rounds].map(([n, b]) => `${b.toFixed(0)} at ${n}`).join(', ')}`);
  verdict(
    factor <= 1.5,
    `flat: ${factor.toFixed(2)}× from n = ${Math.min(...sizes)} to n = ${Math.max(...sizes)} (goal ≤ 1.5×)`,
  );
}

const partitionSize = Number(args['partition-size']);
if (partitionSize > 0) {
  const run = joinScenario({ n: partitionSize, seed });
  run.cluster.clock.advance(20_000);
  const partition = partitionScenario(run.cluster);
  console.log(
    `partition into halves at n = ${partitionSize}: seen from both sides after ${s(partition.seenAfterMs)}, healed ${s(partition.healedAfterMs)} after (${wall()})`,
  );
  verdict(
    partition.seenAfterMs !== undefined && partition.healedAfterMs !== undefined,
    'partition seen from both sides and healed',
  );
}

const lossy = joinScenario({ n: 100, seed, loss: 0.1 });
lossy.cluster.clock.advance(300_000);
const deaths = lossy.cluster.nodes.reduce((sum, node) => sum + node.deaths, 0);
console.log(
  `10 % loss on every link, n = 100, 5 simulated minutes: ${deaths} false deaths, ${lossy.cluster.network.totals().dropped} messages lost`,
);
verdict(deaths === 0, 'no false death under 10 % loss');
console.log(`total ${wall()}`);
