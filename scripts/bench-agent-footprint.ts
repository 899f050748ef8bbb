// What the agent costs on a host: the resident memory of each of its own processes (the shell launcher
// and the agent, not the services it runs) and their CPU while idle, with a real server on loopback.
//
//   npm run bench:agent-footprint -- [--services 3] [--idle 20] [--log-rate 0] [--log-seconds 60] [--source]
//                                    [--node-args "--max-semi-space-size=1"]
//
// Runs the built agent (`packages/cli/dist/main.js`; the npm script builds it first) unless --source.
// --log-rate N makes one service print N lines a second for --log-seconds before the idle window.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { c as tar } from 'tar';
import { startAdminServer } from '../bench/admin-server.ts';

const { values: args } = parseArgs({
  options: {
    services: { type: 'string', default: '3' },
    idle: { type: 'string', default: '20' },
    'log-rate': { type: 'string', default: '0' },
    'log-seconds': { type: 'string', default: '60' },
    source: { type: 'boolean', default: false },
    'node-args': { type: 'string', default: '' },
  },
});
const serviceCount = Number(args.services);
const idleSec = Number(args.idle);
const logRate = Number(args['log-rate']);
const logSec = Number(args['log-seconds']);
const root = new URL('..', import.meta.url).pathname;
const built = join(root, 'packages/cli/dist/main.js');
if (!args.source && !existsSync(built)) throw new Error(`${built} is missing: run npm run build first`);

const work = mkdtempSync(join(tmpdir(), 'flotilla-bench-footprint-'));
// Idles, or prints `rate` lines a second for `seconds` and then idles: a service with output to capture.
const serviceScript = `const [rate, seconds] = process.argv.slice(2).map(Number);
const end = Date.now() + seconds * 1000;
if (rate > 0) {
  const timer = setInterval(() => {
    if (Date.now() > end) return clearInterval(timer);
    for (let i = 0; i < rate / 10; i++) console.log('line ' + i + ' of a service that talks a lot, at ' + new Date().toISOString());
  }, 100);
}
setInterval(() => {}, 60_000);
`;

const { server, call } = await startAdminServer(work);

async function publish(service: string, rate: number): Promise<void> {
  const src = join(work, `src-${service}`);
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, 'service.mjs'), serviceScript);
  writeFileSync(
    join(src, 'flotilla.json'),
    JSON.stringify({
      run: { command: process.execPath, args: ['service.mjs', String(rate), String(logSec)] },
      // A short health gate, so that installing 20 services does not take 20 × 30 s.
      health: { command: { command: 'true' }, startupWindowSec: 1 },
    }),
  );
  const file = join(work, `${service}.tar.gz`);
  await tar({ gzip: true, file, cwd: src, portable: true }, ['service.mjs', 'flotilla.json']);
  await call('POST', '/api/v1/services', { name: service });
  await call('PUT', `/api/v1/services/${service}/versions/1.0.0`, readFileSync(file), 'application/gzip');
}

/** The pids of a process's children (from /proc). */
function childrenOf(pid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) found.push(Number(entry));
    } catch {}
  }
  return found;
}
const statusKiB = (pid: number, field: string) =>
  Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
const rssKiB = (pid: number) => statusKiB(pid, 'VmRSS');
/** User plus system CPU time of a process, in clock ticks (100 a second on Linux). */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}
const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');

const services = Array.from({ length: serviceCount }, (_, i) => `svc-${i + 1}`);
let agent: ChildProcess | undefined;
try {
  await call('POST', '/api/v1/environments', { name: 'bench' });
  for (const [i, service] of services.entries()) await publish(service, i === 0 ? logRate : 0);
  await call('PATCH', '/api/v1/environments/bench/desired', {
    set: Object.fromEntries(services.map((s) => [s, '1.0.0'])),
  });
  const token = (await call('POST', '/api/v1/tokens', { kind: 'agent', name: 'bench-host', environment: 'bench' }))
    .token as string;
  // Node options go before the script, so the launcher starts the agent with them too.
  const nodeArgs = (args['node-args'] as string).split(' ').filter(Boolean);
  const entry = args.source ? ['--conditions=@flotilla/source', join(root, 'packages/cli/src/main.ts')] : [built];
  agent = spawn(
    process.execPath,
    [...nodeArgs, ...entry, 'agent', '--server', server.url, '--token', token, '--dir', join(work, 'agent')],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const launcherPid = agent.pid as number;

  const started = Date.now();
  for (;;) {
    const list = (await call('GET', '/api/v1/instances?environment=bench')) as {
      instances: { services: { service: string; version: string | null; state: string | null }[] }[];
    };
    const running = list.instances[0]?.services.filter((s) => s.version === '1.0.0' && s.state === 'running');
    if (running?.length === serviceCount) break;
    if (Date.now() - started > 120_000) throw new Error('the services were not all running within 120 s');
    await new Promise((r) => setTimeout(r, 200));
  }
  console.log(
    `${serviceCount} services running after ${Date.now() - started} ms (${args.source ? 'sources' : 'built JS'})`,
  );
  // The spawned process became the shell launcher; the agent is its child.
  const agentPid = childrenOf(launcherPid).find((pid) => cmdline(pid).includes(' agent'));
  if (!agentPid) throw new Error('no agent process found under the launcher');
  const own = { launcher: launcherPid, agent: agentPid };
  if (logRate > 0) {
    console.log(`svc-1 prints ${logRate} lines a second for ${logSec} s…`);
    const ticks = cpuTicks(agentPid);
    let peak = 0;
    const until = Date.now() + logSec * 1000 + 2000;
    while (Date.now() < until) {
      peak = Math.max(peak, rssKiB(agentPid));
      await new Promise((r) => setTimeout(r, 500));
    }
    const cpu = (cpuTicks(agentPid) - ticks) / (logSec + 2);
    console.log(`agent under load: peak RSS ${(peak / 1024).toFixed(1)} MB, CPU ${cpu.toFixed(1)} % of one core`);
  }
  const before = Object.fromEntries(Object.entries(own).map(([k, pid]) => [k, cpuTicks(pid)]));
  await new Promise((r) => setTimeout(r, idleSec * 1000));
  let total = 0;
  let ticks = 0;
  for (const [name, pid] of Object.entries(own)) {
    const kib = rssKiB(pid);
    const used = cpuTicks(pid) - (before[name] as number);
    total += kib;
    ticks += used;
    // Anonymous memory is the process's own; file-backed pages (the node binary) are shared between processes.
    const anon = statusKiB(pid, 'RssAnon') / 1024;
    console.log(
      `${name.padEnd(8)} pid ${pid}: RSS ${(kib / 1024).toFixed(1)} MB (${anon.toFixed(1)} anonymous), CPU ${(used / idleSec).toFixed(2)} % over ${idleSec} s idle`,
    );
  }
  console.log(`agent total: RSS ${(total / 1024).toFixed(1)} MB, CPU ${(ticks / idleSec).toFixed(2)} % of one core`);
} finally {
  if (agent && agent.exitCode === null) {
    agent.kill('SIGTERM');
    await new Promise((r) => agent?.once('exit', r));
  }
  await server.close();
  rmSync(work, { recursive: true, force: true });
}
