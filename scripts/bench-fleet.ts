// A fleet of simulated agents against `flotilla server` processes on loopback:
//   npm run bench:fleet [-- --agents 5000] [--database postgres://…] [--replicas N] [--checkin-threads N] [--changes 3]
//
// Load generators are separate processes (scripts/bench-fleet-generator.ts, at most --per-generator
// agents each, as one process may hold 20,000 descriptors here). Every agent enrols, long-polls its
// desired list and reports state and a few log lines every --report-interval seconds. Once all are
// parked, the run measures --steady seconds of reports, then --changes desired-version changes: the
// time until every agent has the new version. With --replicas, several servers share the PostgreSQL
// database; each generator talks to one of them (a balancer in front would need a descriptor per
// connection on each side, more than one process may hold here), and changes go through the first,
// so a wake-up on the others crosses the notice bus. Prints figures and PASS/MISSED per goal; the server, the
// generators, the temp dir and (PostgreSQL) the database are removed at the end.
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { c as tar } from 'tar';
import { copyHeldKeys } from '../packages/server/src/server-keys/held-keys.ts';
import { cpuMs, freshPostgres, load, percentile, sleep, verdict } from './bench-drift-support.ts';
import type { FromGenerator, GeneratorConfig, ToGenerator } from './bench-fleet-generator.ts';

const { values: args } = parseArgs({
  options: {
    agents: { type: 'string', default: '5000' },
    'per-generator': { type: 'string', default: '6000' },
    'ramp-per-second': { type: 'string', default: '1000' },
    'report-interval': { type: 'string', default: '30' },
    steady: { type: 'string', default: '60' },
    warmup: { type: 'string' },
    changes: { type: 'string', default: '3' },
    database: { type: 'string' },
    replicas: { type: 'string', default: '1' },
    'checkin-threads': { type: 'string' },
    profile: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log(`npm run bench:fleet -- [--agents N] [--database postgres://…] [--checkin-threads N] [--changes N]
  --agents           simulated agents (default 5000)
  --per-generator    agents per load-generator process (default 6000)
  --ramp-per-second  agents started per second over all generators (default 1000)
  --report-interval  seconds between an agent's state reports (default 30)
  --warmup           seconds after every agent parked before measuring (default: the report interval)
  --steady           seconds of reports measured before the first change (default 60)
  --changes          desired-version changes, each measured until every agent has it (default 3)
  --database         a PostgreSQL server URL with a user allowed to create databases (default: SQLite)
  --replicas         servers sharing that PostgreSQL database (default 1)
  --checkin-threads  passed to flotilla server (default: the server's own default)
  --profile DIR      write a CPU profile of the server process (.cpuprofile) into DIR`);
  process.exit(0);
}
const agents = Number(args.agents);
const replicaCount = Number(args.replicas);
if (replicaCount > 1 && !args.database) throw new Error('--replicas needs --database postgres://…');
const changes = Number(args.changes);
const generators = Math.ceil(agents / Number(args['per-generator']));
const work = mkdtempSync(join(tmpdir(), 'flotilla-bench-fleet-'));
const admin = `flt_bench_${randomBytes(12).toString('hex')}`;
const root = new URL('..', import.meta.url).pathname;
const children: ChildProcess[] = [];
let database: Awaited<ReturnType<typeof freshPostgres>> | undefined;

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as { port: number }).port;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

function statusMb(pid: number, field: string): number {
  const m = new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) / 1024;
}

async function startServer(index: number): Promise<{ url: string; pid: number }> {
  const port = await freePort();
  const dataDir = join(work, `server-${index}`);
  // Replicas hold the first one's keys, as they must (docs/operations.md#replicas).
  if (index > 0) copyHeldKeys(join(work, 'server-0'), dataDir);
  const flags = ['--host', '127.0.0.1', '--port', String(port), '--data-dir', dataDir];
  flags.push('--geodb', 'off', '--log-level', 'warn');
  if (database) flags.push('--database', database.url);
  if (args['checkin-threads'] !== undefined) flags.push('--checkin-threads', args['checkin-threads']);
  const server = spawn(
    process.execPath,
    [
      '--conditions=@flotilla/source',
      ...(args.profile ? ['--cpu-prof', '--cpu-prof-dir', args.profile] : []),
      join(root, 'packages/cli/src/main.ts'),
      'server',
      ...flags,
    ],
    { env: { ...process.env, FLOTILLA_ADMIN_TOKEN: admin }, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  children.push(server);
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 600; i++) {
    if (server.exitCode !== null) throw new Error(`the server exited with ${server.exitCode}`);
    const ok = await fetch(`${url}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return { url, pid: server.pid as number };
    await sleep(100);
  }
  throw new Error('the server was not ready within 60 s');
}

async function call(url: string, method: string, path: string, body?: unknown, type = 'application/json') {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${admin}`, ...(body !== undefined ? { 'content-type': type } : {}) },
    body: body === undefined ? undefined : body instanceof Buffer ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(60_000),
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.status === 204 ? {} : ((await res.json()) as Record<string, unknown>);
}

async function publish(url: string, version: string) {
  const src = join(work, `src-${version}`);
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, 'app.sh'), '#!/bin/sh\nexec sleep 3600\n');
  writeFileSync(join(src, 'flotilla.json'), JSON.stringify({ run: { command: '/bin/sh', args: ['app.sh'] } }));
  const file = join(work, `app-${version}.tar.gz`);
  await tar({ gzip: true, file, cwd: src, portable: true }, ['app.sh', 'flotilla.json']);
  await call(url, 'PUT', `/api/v1/services/app/versions/${version}`, readFileSync(file), 'application/gzip');
}

/** Cumulative counts of the server's own latency histogram for one route, by bucket bound. */
async function serverHistogram(url: string, route: string): Promise<Map<string, number>> {
  const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${admin}` } });
  const text = await res.text();
  const buckets = new Map<string, number>();
  const pattern = /^flotilla_http_request_duration_seconds_bucket\{(.*)\} (\d+)/gm;
  for (const m of text.matchAll(pattern)) {
    const labels = m[1] as string;
    if (!labels.includes(`route="${route}"`)) continue;
    const le = /le="([^"]+)"/.exec(labels)?.[1] as string;
    buckets.set(le, (buckets.get(le) ?? 0) + Number(m[2]));
  }
  return buckets;
}

/** The bucket bound under which `q` of the requests between two scrapes were answered, as the server timed them. */
function serverQuantile(before: Map<string, number>, after: Map<string, number>, q: number): string {
  const total = (after.get('+Inf') ?? 0) - (before.get('+Inf') ?? 0);
  for (const [le, count] of after) {
    if (count - (before.get(le) ?? 0) >= q * total) return le === '+Inf' ? '> 2.5 s' : `≤ ${Number(le) * 1000} ms`;
  }
  return 'none';
}

const quantiles = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), max: sorted.at(-1) ?? 0 };
};
const f0 = (n: number) => n.toFixed(0);

async function main() {
  if (args.database) database = await freshPostgres(args.database);
  const servers: Array<{ url: string; pid: number }> = [];
  for (let i = 0; i < replicaCount; i++) servers.push(await startServer(i));
  const server = servers[0] as { url: string; pid: number };
  const pids = servers.map((s) => s.pid);
  const rssOf = () => pids.reduce((n, pid) => n + statusMb(pid, 'VmRSS'), 0);
  const cpuOf = () => pids.reduce((n, pid) => n + cpuMs(pid), 0);
  const store = database ? 'PostgreSQL' : 'SQLite';
  const shape = replicaCount > 1 ? `${replicaCount} replicas on ${store}` : store;
  console.log(`fleet bench: ${agents} agents, ${generators} generator processes, ${shape}; ${load()}`);
  await call(server.url, 'POST', '/api/v1/environments', { name: 'fleet' });
  await call(server.url, 'POST', '/api/v1/services', { name: 'app' });
  for (let i = 0; i <= changes; i++) await publish(server.url, `1.0.${i}`);
  await call(server.url, 'PATCH', '/api/v1/environments/fleet/desired', { set: { app: '1.0.0' } });
  const { token } = (await call(server.url, 'POST', '/api/v1/tokens', {
    kind: 'agent',
    name: 'fleet',
    environment: 'fleet',
  })) as { token: string };
  const idleRss = rssOf();

  const progress = new Map<number, Extract<FromGenerator, { type: 'progress' }>>();
  const woken: number[][] = [];
  const stats: Extract<FromGenerator, { type: 'stats' }>[] = [];
  const procs: ChildProcess[] = [];
  const perGenerator = Math.ceil(agents / generators);
  for (let g = 0; g < generators; g++) {
    const count = Math.min(perGenerator, agents - g * perGenerator);
    const child = fork(join(root, 'scripts/bench-fleet-generator.ts'), [], {
      execArgv: ['--conditions=@flotilla/source'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    children.push(child);
    procs.push(child);
    child.on('message', (m: FromGenerator) => {
      if (m.type === 'progress') progress.set(g, m);
      else if (m.type === 'woken') woken.push(m.at);
      else stats.push(m);
    });
    const config: GeneratorConfig = {
      url: (servers[g % servers.length] as { url: string }).url,
      token,
      first: g * perGenerator,
      count,
      environment: 'fleet',
      reportIntervalMs: Number(args['report-interval']) * 1000,
      rampPerSecond: Number(args['ramp-per-second']) / generators,
    };
    child.send({ type: 'start', config } satisfies ToGenerator);
  }
  const sum = (key: 'parked' | 'enrolled' | 'errors') => [...progress.values()].reduce((n, p) => n + p[key], 0);
  const rampStart = Date.now();
  const rampLimit = Math.max(120_000, (agents / Number(args['ramp-per-second'])) * 3000);
  while (sum('parked') < agents) {
    if (Date.now() - rampStart > rampLimit) {
      const last = [...progress.values()].map((p) => p.lastError).find(Boolean);
      throw new Error(
        `only ${sum('parked')} of ${agents} agents parked a poll; ${sum('errors')} errors, last: ${last}`,
      );
    }
    await sleep(500);
  }
  const parkedAfter = (Date.now() - rampStart) / 1000;
  // Each agent's first report stores it whole; at rest they repeat it, so measure from the second on.
  const warmup = Number(args.warmup ?? args['report-interval']);
  await sleep(warmup * 1000);
  for (const child of procs) child.send({ type: 'measure' } satisfies ToGenerator);
  const stateRoute = '/api/v1/agent/state';
  const histograms = async () => {
    const merged = new Map<string, number>();
    for (const s of servers)
      for (const [le, n] of await serverHistogram(s.url, stateRoute)) merged.set(le, (merged.get(le) ?? 0) + n);
    return merged;
  };
  const serverBefore = await histograms();
  const serverCpuAt = cpuOf();
  const parkedRss = rssOf();
  console.log(
    `all ${agents} parked after ${parkedAfter.toFixed(1)} s (measured from ${warmup} s later) (${sum('errors')} errors on the way); server RSS ${f0(idleRss)} → ${f0(parkedRss)} MB: ${(((parkedRss - idleRss) * 1024) / agents).toFixed(1)} KB per parked agent`,
  );
  const steady = Number(args.steady);
  await sleep(steady * 1000);
  const steadyCpu = (cpuOf() - serverCpuAt) / (10 * steady);
  console.log(`steady ${steady} s: server CPU ${f0(steadyCpu)} % of one core, RSS ${f0(rssOf())} MB; ${load()}`);

  const wakeups: { p50: number; p99: number; max: number; within5s: number; count: number; cpu: number }[] = [];
  for (let i = 1; i <= changes; i++) {
    const version = `1.0.${i}`;
    woken.length = 0;
    for (const child of procs) child.send({ type: 'expect', version } satisfies ToGenerator);
    await sleep(300);
    const cpuBefore = cpuOf();
    const since = Date.now();
    await call(server.url, 'PATCH', '/api/v1/environments/fleet/desired', { set: { app: version } });
    const changeMs = Date.now() - since;
    while (woken.length < generators) await sleep(200);
    const delays = woken.flat().map((at) => at - since);
    const q = quantiles(delays);
    const within5s = delays.filter((d) => d <= 5000).length;
    const cpu = (cpuOf() - cpuBefore) / 10 / ((Date.now() - since) / 1000);
    wakeups.push({ ...q, within5s, count: delays.length, cpu });
    console.log(
      `change ${i} (→ ${version}, PATCH answered in ${changeMs} ms): ${delays.length} of ${agents} agents have it; p50 ${f0(q.p50)} ms, p99 ${f0(q.p99)} ms, max ${f0(q.max)} ms; ${within5s} within 5 s; server CPU ${f0(cpu)} %`,
    );
    await sleep(5000);
  }
  const serverRss = rssOf();
  const serverAfter = await histograms();
  for (const child of procs) child.send({ type: 'stop' } satisfies ToGenerator);
  while (stats.length < generators) await sleep(100);
  const reports = quantiles(stats.flatMap((s) => s.reports));
  const duringWake = quantiles(stats.flatMap((s) => s.reportsDuringWake));
  const steadyReports = quantiles(stats.flatMap((s) => s.reportsSteady));
  const reportErrors = stats.reduce((n, s) => n + s.reportErrors, 0);
  const pollErrors = stats.reduce((n, s) => n + s.pollErrors, 0);
  console.log(
    `state reports: ${stats.reduce((n, s) => n + s.reports.length, 0)}, p50 ${f0(reports.p50)} ms, p99 ${f0(reports.p99)} ms, max ${f0(reports.max)} ms; before the first change p99 ${f0(steadyReports.p99)} ms; while agents were being woken p99 ${f0(duringWake.p99)} ms; errors: ${reportErrors} reports, ${pollErrors} polls`,
  );
  console.log(
    `state reports as the server timed them (from parsed request to answer): p50 ${serverQuantile(serverBefore, serverAfter, 0.5)}, p99 ${serverQuantile(serverBefore, serverAfter, 0.99)}`,
  );
  console.log(`server RSS at the end ${f0(serverRss)} MB; ${load()}`);
  const allWoken = wakeups.every((w) => w.count === agents && w.max <= 5000);
  verdict(reports.p99 < 200, `state reports p99 < 200 ms, changes included (${f0(reports.p99)} ms)`);
  verdict(steadyReports.p99 < 200, `state reports p99 < 200 ms at rest (${f0(steadyReports.p99)} ms)`);
  verdict(
    allWoken,
    `every agent woken within 5 s of each change (worst ${f0(Math.max(...wakeups.map((w) => w.max)))} ms)`,
  );
}

try {
  await main();
} finally {
  for (const child of children.reverse()) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  }
  await database?.drop();
  rmSync(work, { recursive: true, force: true });
}
