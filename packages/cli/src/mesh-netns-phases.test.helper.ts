import { setTimeout as sleep } from 'node:timers/promises';
import type { Lab, LabNode, PeerState } from './mesh-netns.test.helper.ts';

// The mesh-in-namespaces scenario, phase by phase, as figures: the test asserts bounds on them and
// `npm run bench:mesh` prints them. Node views come from the nodes' logs (each state change is logged
// with its time), round trips from the nodes' /metrics histograms and /api/v1/samples.

/** Polls `done` until it holds; the elapsed ms, or undefined when `timeoutMs` passed first. */
export async function waitUntil(done: () => boolean, timeoutMs: number, everyMs = 100): Promise<number | undefined> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    if (done()) return Date.now() - start;
    await sleep(everyMs);
  }
  return done() ? Date.now() - start : undefined;
}

const running = (lab: Lab) =>
  lab.nodes.filter((n) => n.child && n.child.exitCode === null && n.child.signalCode === null);
const sees = (node: LabNode, peer: LabNode, states: PeerState[]) =>
  states.includes(node.view.get(peer.name) as PeerState);

/** Every live node sees every other live node in one of `states` (a node ignores itself). */
function allSee(lab: Lab, states: PeerState[], pairs: (n: LabNode, p: LabNode) => boolean = () => true): boolean {
  const live = running(lab);
  return live.every((n) => live.every((p) => p === n || !pairs(n, p) || sees(n, p, states)));
}

export interface Convergence {
  /** From start until every node's log shows all others alive. */
  ms?: number;
  /** From start until the last node had its ports open (processes start from sources). */
  lastReadyMs?: number;
  /** Nodes whose API (/api/v1/nodes) did not list all nodes once their logs did. */
  apiMismatches: string[];
}

export async function converge(lab: Lab, timeoutMs: number): Promise<Convergence> {
  const started = Date.now();
  lab.start();
  const waited = await waitUntil(() => allSee(lab, ['alive']), timeoutMs, 200);
  const ms = waited === undefined ? undefined : Date.now() - started;
  const ready = lab.nodes.map((n) => n.readyAt);
  const lastReadyMs = ready.every((t) => t !== undefined) ? Math.max(...(ready as number[])) - started : undefined;
  const all = lab.nodes.map((n) => n.name).sort();
  const apiMismatches: string[] = [];
  for (const node of lab.nodes) {
    const res = await lab.get(node, '/api/v1/nodes');
    const names = res.status === 200 ? ((JSON.parse(res.body) as { nodes: string[] }).nodes ?? []) : [];
    if (names[0] !== node.name || JSON.stringify([...names].sort()) !== JSON.stringify(all))
      apiMismatches.push(node.name);
  }
  return { ms, lastReadyMs, apiMismatches };
}

export interface Detection {
  victim: string;
  /** Per observer: ms from the SIGKILL to its log saying the victim is dead (undefined: not within the bound). */
  perNode: Map<string, number | undefined>;
  /** The slowest observer, when all declared it. */
  allMs?: number;
  firstSuspectMs?: number;
  /** Observers whose API still lists the victim. */
  stillListed: string[];
}

export async function killOne(lab: Lab, victim: LabNode, timeoutMs: number): Promise<Detection> {
  const killedAt = Date.now();
  lab.kill(victim);
  const others = lab.nodes.filter((n) => n !== victim);
  await waitUntil(() => others.every((n) => n.view.get(victim.name) === 'dead'), timeoutMs, 100);
  const perNode = new Map<string, number | undefined>();
  let firstSuspect: number | undefined;
  for (const n of others) {
    const events = n.events.filter((e) => e.peer === victim.name && e.at >= killedAt - 1000);
    const dead = events.find((e) => e.state === 'dead');
    perNode.set(n.name, dead ? Math.max(0, dead.at - killedAt) : undefined);
    const suspect = events.find((e) => e.state === 'suspect' || e.state === 'dead');
    if (suspect) firstSuspect = Math.min(firstSuspect ?? Infinity, Math.max(0, suspect.at - killedAt));
  }
  const times = [...perNode.values()];
  const stillListed: string[] = [];
  for (const n of others) {
    const res = await lab.get(n, '/api/v1/nodes');
    if (res.status !== 200 || (JSON.parse(res.body) as { nodes: string[] }).nodes.includes(victim.name)) {
      stillListed.push(n.name);
    }
  }
  return {
    victim: victim.name,
    perNode,
    allMs: times.every((t) => t !== undefined) ? Math.max(...(times as number[])) : undefined,
    firstSuspectMs: firstSuspect,
    stillListed,
  };
}

/** Request round trips (histogram buckets, cumulative by `le`) per observer and peer, from /metrics. */
type Buckets = Map<string, Map<number, number>>;

async function requestHistograms(lab: Lab): Promise<Map<string, Buckets>> {
  const out = new Map<string, Buckets>();
  await Promise.all(
    running(lab).map(async (node) => {
      const res = await lab.get(node, '/metrics');
      const buckets: Buckets = new Map();
      for (const line of res.body.split('\n')) {
        const m = /^rtt_bucket\{([^}]*)\} (\S+)$/.exec(line);
        if (!m?.[1] || !m[2]) continue;
        const labels = Object.fromEntries([...m[1].matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
        if (labels.type !== 'request' || !labels.to || !labels.le) continue;
        const le = labels.le === '+Inf' ? Infinity : Number(labels.le);
        const peer = buckets.get(labels.to) ?? new Map<number, number>();
        peer.set(le, Number(m[2]));
        buckets.set(labels.to, peer);
      }
      out.set(node.name, buckets);
    }),
  );
  return out;
}

export interface RttShare {
  probes: number;
  /** Probes slower than `slowSeconds`: a lost segment waits for TCP's retransmission (at least 200 ms). */
  slow: number;
  /** Upper bounds of the buckets holding the median and the 99th percentile, seconds. */
  p50?: number;
  p99?: number;
}

/** Between two histogram snapshots: request probes across the groups and within them. */
function rttShares(lab: Lab, before: Map<string, Buckets>, after: Map<string, Buckets>, slowSeconds: number) {
  const group = new Map(lab.nodes.map((n) => [n.name, n.group]));
  const sum = { across: new Map<number, number>(), within: new Map<number, number>() };
  for (const [observer, peers] of after) {
    for (const [peer, buckets] of peers) {
      const into = group.get(observer) === group.get(peer) ? sum.within : sum.across;
      for (const [le, count] of buckets) {
        const was = before.get(observer)?.get(peer)?.get(le) ?? 0;
        into.set(le, (into.get(le) ?? 0) + count - was);
      }
    }
  }
  const share = (cumulative: Map<number, number>): RttShare => {
    const bounds = [...cumulative.keys()].sort((p, q) => p - q);
    const probes = cumulative.get(Infinity) ?? 0;
    const fast = bounds.filter((le) => le <= slowSeconds).map((le) => cumulative.get(le) ?? 0);
    const quantile = (q: number) => bounds.find((le) => (cumulative.get(le) ?? 0) >= q * probes);
    return { probes, slow: probes - Math.max(0, ...fast), p50: quantile(0.5), p99: quantile(0.99) };
  };
  return { across: share(sum.across), within: share(sum.within) };
}

/** Per-packet loss that makes `share` of request probes slow, with two segments (request, answer) per probe. */
export const lossFromSlowShare = (share: number) => 1 - Math.sqrt(Math.max(0, 1 - share));

export interface Window {
  ms: number;
  across: RttShare;
  within: RttShare;
  /** IP bytes the running nodes sent to each other per second (one probe round a second), per node on average. */
  bytesPerNodePerSecond: number;
  /** Membership changes logged meanwhile by running nodes about running nodes. */
  deaths: { observer: string; peer: string; at: number }[];
  suspicions: number;
}

/** Watches the mesh for `ms` (with whatever the lab injects meanwhile) and says what it measured. */
export async function watch(lab: Lab, ms: number, slowSeconds = 0.1): Promise<Window> {
  const live = running(lab);
  const names = new Set(live.map((n) => n.name));
  const bytesBefore = lab.bytesSent();
  const histBefore = await requestHistograms(lab);
  const from = Date.now();
  await sleep(ms);
  const histAfter = await requestHistograms(lab);
  const bytesAfter = lab.bytesSent();
  const elapsed = (Date.now() - from) / 1000;
  const sent = bytesAfter.a - bytesBefore.a + bytesAfter.b - bytesBefore.b;
  const deaths: Window['deaths'] = [];
  let suspicions = 0;
  for (const n of live) {
    for (const e of n.events) {
      if (e.at < from || !names.has(e.peer)) continue;
      if (e.state === 'dead') deaths.push({ observer: n.name, peer: e.peer, at: e.at - from });
      if (e.state === 'suspect') suspicions++;
    }
  }
  return {
    ms,
    ...rttShares(lab, histBefore, histAfter, slowSeconds),
    bytesPerNodePerSecond: sent / elapsed / Math.max(1, live.length),
    deaths,
    suspicions,
  };
}

export interface Partition {
  /** From the DROP until every running node on each side holds every one on the other suspect or dead. */
  seenMs?: number;
  /** ... and dead. */
  deadMs?: number;
  /** From removing the DROP until every running node holds every other alive, unchanged for STABLE_MS. */
  healedMs?: number;
  /** Views at the bound, for the report: "observer: peers not as expected". */
  notSeen: string[];
  notHealed: string[];
  /** "observer>peer" declared dead during the partition though both were on the same side. */
  sameSideDeaths: string[];
  /** Deaths logged after the DROP was removed (a dead rumour from the other side, until refuted). */
  deathsWhileHealing: number;
}

/** Healed means all alive and no change logged for this long (rumours from the other side settle). */
export const STABLE_MS = 5000;

export async function partitionAndHeal(
  lab: Lab,
  bounds: { seenMs: number; deadMs: number; healMs: number },
): Promise<Partition> {
  const across = (n: LabNode, p: LabNode) => n.group !== p.group;
  const live = running(lab);
  const names = new Set(live.map((n) => n.name));
  const started = Date.now();
  lab.partition(true);
  let seenMs: number | undefined;
  let deadMs: number | undefined;
  const notSeen: string[] = [];
  let healStart: number;
  try {
    seenMs = await waitUntil(() => allSee(lab, ['suspect', 'dead'], across), bounds.seenMs);
    if (seenMs !== undefined) {
      const dead = await waitUntil(() => allSee(lab, ['dead'], across), bounds.deadMs);
      deadMs = dead === undefined ? undefined : Date.now() - started;
    }
    for (const n of live) {
      const wrong = live.filter((p) => across(n, p) && !sees(n, p, ['suspect', 'dead'])).map((p) => p.name);
      if (wrong.length > 0) notSeen.push(`${n.name}: ${wrong.join(',')}`);
    }
  } finally {
    healStart = Date.now();
    lab.partition(false);
  }
  const lastChange = () =>
    Math.max(0, ...live.flatMap((n) => n.events.filter((e) => names.has(e.peer)).map((e) => e.at)));
  const stable = await waitUntil(
    () => allSee(lab, ['alive']) && Date.now() - lastChange() >= STABLE_MS,
    bounds.healMs,
    200,
  );
  const healedMs = stable === undefined ? undefined : Math.max(0, lastChange() - healStart);
  const notHealed = live
    .map(
      (n) =>
        [
          n.name,
          live.filter((p) => p !== n && !sees(n, p, ['alive'])).map((p) => `${p.name}=${n.view.get(p.name)}`),
        ] as const,
    )
    .filter(([, wrong]) => wrong.length > 0)
    .map(([name, wrong]) => `${name}: ${wrong.join(',')}`);
  const deaths = (from: number, to: number) =>
    live.flatMap((n) =>
      n.events
        .filter((e) => e.at >= from && e.at < to && e.state === 'dead' && names.has(e.peer))
        .map((e) => ({ n, e })),
    );
  const sameSideDeaths = deaths(started, healStart)
    .filter(({ n, e }) => live.some((p) => p.name === e.peer && !across(n, p)))
    .map(({ n, e }) => `${n.name}>${e.peer}`);
  return {
    seenMs,
    deadMs,
    healedMs,
    notSeen,
    notHealed,
    sameSideDeaths,
    deathsWhileHealing: deaths(healStart, Infinity).length,
  };
}

export interface PairRtt {
  pairs: number;
  /** Median over the pairs of each pair's median (seconds), and the largest pair p99. */
  p50?: number;
  p99?: number;
  /** Share of failed request probes the samples report. */
  failedShare: number;
  minute?: string;
}

/** Request round trips between the groups (or within them) from a node's /api/v1/samples: per pair, one minute. */
export async function sampledRtt(lab: Lab, via: LabNode, across: boolean, minMinuteEnd = 0): Promise<PairRtt> {
  const res = await lab.get(via, '/api/v1/samples');
  const group = new Map(lab.nodes.map((n) => [n.name, n.group]));
  const samples = (
    JSON.parse(res.body) as {
      samples: {
        from: string;
        to: string;
        type: string;
        value: string;
        ts: string;
        count?: number;
        failed?: number;
        p99?: string;
      }[];
    }
  ).samples.filter(
    (s) =>
      s.type === 'request' &&
      Date.parse(s.ts) >= minMinuteEnd &&
      group.has(s.from) &&
      group.has(s.to) &&
      (group.get(s.from) !== group.get(s.to)) === across,
  );
  const p50s = samples
    .map((s) => Number(s.value) / 1e9)
    .filter(Number.isFinite)
    .sort((p, q) => p - q);
  const p99s = samples.map((s) => Number(s.p99) / 1e9).filter(Number.isFinite);
  const count = samples.reduce((t, s) => t + (s.count ?? 0), 0);
  const failed = samples.reduce((t, s) => t + (s.failed ?? 0), 0);
  return {
    pairs: samples.length,
    p50: p50s[Math.floor(p50s.length / 2)],
    p99: p99s.length > 0 ? Math.max(...p99s) : undefined,
    failedShare: count > 0 ? failed / count : 0,
    minute: samples[0]?.ts,
  };
}
