// Floods the login route with random user names and measures what everyone else gets meanwhile:
// check-in latency (POST /v1/checkupgrade) and the latency of a small artifact download.
//
//   npm run bench:login-flood [-- --duration 20] [--clients 32] [--sources many|one] [--hash-concurrency 2]
//
// Starts a server (SQLite, trusting 127.0.0.0/8 as a proxy) in a child process on a loopback port,
// publishes a small version, measures 5 s quietly, then floods from --clients concurrent clients
// (in a worker thread) for --duration seconds: from one address, or (--sources many, the default)
// each login from a random address in X-Forwarded-For. Removes its server and temp dir afterwards.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import pino from 'pino';
import { c as tar } from 'tar';
import { checkinBody, randomPublicAddress } from '../bench/workload.ts';
import type { configurePasswordQueue } from '../packages/server/src/accounts/password.ts';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '20' },
    clients: { type: 'string', default: '32' },
    sources: { type: 'string', default: 'many' },
    'hash-concurrency': { type: 'string' },
    'hash-waiting': { type: 'string' },
    serve: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

interface FloodJob {
  url: string;
  clients: number;
  seconds: number;
  many: boolean;
}

/** The flood, in a worker thread so it does not delay the measuring loop's own event loop. */
async function flood(job: FloodJob): Promise<Record<string, number>> {
  const statuses: Record<string, number> = {};
  const end = Date.now() + job.seconds * 1000;
  const client = async () => {
    while (Date.now() < end) {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (job.many) headers['x-forwarded-for'] = randomPublicAddress();
      const name = `u${randomBytes(6).toString('hex')}`;
      try {
        const res = await fetch(`${job.url}/api/v1/auth/login`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ name, password: 'not the password at all' }),
        });
        await res.arrayBuffer();
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      } catch {
        statuses.error = (statuses.error ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: job.clients }, client));
  return statuses;
}

/** The server, in a child process of its own so the load generator does not share its event loop. */
async function serve(dir: string): Promise<void> {
  const { resolveServerConfig } = await import('../packages/server/src/config/config.ts');
  const { startServer } = await import('../packages/server/src/start.ts');
  const passwords: { configurePasswordQueue?: typeof configurePasswordQueue } = await import(
    '../packages/server/src/accounts/password.ts'
  );
  // Absent in builds before the queue, so the same script measures them too.
  const queue = passwords.configurePasswordQueue?.({
    concurrency: args['hash-concurrency'] ? Number(args['hash-concurrency']) : undefined,
    maxWaiting: args['hash-waiting'] ? Number(args['hash-waiting']) : undefined,
  }) ?? { concurrency: 'no queue', maxWaiting: 'any number' };
  const config = resolveServerConfig(
    { host: '127.0.0.1', port: '0', dataDir: dir, trustedProxies: '127.0.0.0/8' },
    { FLOTILLA_ADMIN_TOKEN: process.env.FLOTILLA_ADMIN_TOKEN },
    dir,
  );
  const server = await startServer(config, { logger: pino({ level: 'silent' }) });
  console.log(JSON.stringify({ url: server.url, concurrency: queue.concurrency, maxWaiting: queue.maxWaiting }));
  process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
}

/** User + system CPU time (ms) of a process and all its threads, from /proc (Linux; clock ticks are 10 ms). */
function cpuMs(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return Number.NaN;
  }
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

const ms = (v: number) => `${v.toFixed(1)} ms`;

/** Check-ins one after another, and a download every 50 ms, until `until` resolves. */
async function measure(url: string, token: string, until: Promise<unknown>) {
  let done = false;
  void until.then(() => {
    done = true;
  });
  const checkins: number[] = [];
  const downloads: number[] = [];
  const failures: string[] = [];
  const checkinLoop = async () => {
    while (!done) {
      const started = performance.now();
      const res = await fetch(`${url}/v1/checkupgrade`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': randomPublicAddress() },
        body: checkinBody(),
      });
      await res.arrayBuffer();
      if (res.status !== 200) failures.push(`check-in ${res.status}`);
      checkins.push(performance.now() - started);
    }
  };
  const downloadLoop = async () => {
    while (!done) {
      const started = performance.now();
      const res = await fetch(`${url}/api/v1/services/web/versions/1.0.0/artifact`, {
        headers: { authorization: `Bearer ${token}` },
      });
      await res.arrayBuffer();
      if (res.status !== 200) failures.push(`download ${res.status}`);
      downloads.push(performance.now() - started);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  await Promise.all([checkinLoop(), downloadLoop()]);
  return { checkins, downloads, failures };
}

/** A user who knows the password, from `address`: how long until they are in, honouring Retry-After. */
async function honestLogin(url: string, address: string): Promise<{ ms: number; tries: number }> {
  const started = performance.now();
  for (let tries = 1; performance.now() - started < 120_000; tries++) {
    const res = await fetch(`${url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': address },
      body: JSON.stringify({ name: 'alice', password: 'the right long password' }),
    });
    await res.arrayBuffer();
    if (res.status === 200) return { ms: performance.now() - started, tries };
    if (res.status !== 429) throw new Error(`honest login: ${res.status}`);
    await new Promise((r) => setTimeout(r, Number(res.headers.get('retry-after') ?? 1) * 1000));
  }
  throw new Error(`honest login from ${address}: not in after 120 s`);
}

async function main(): Promise<void> {
  const seconds = Number(args.duration);
  const clients = Number(args.clients);
  const work = mkdtempSync(join(tmpdir(), 'flotilla-bench-login-'));
  const token = `flt_bench_${randomBytes(12).toString('hex')}`;
  const passThrough = ['hash-concurrency', 'hash-waiting'].flatMap((k) =>
    args[k as 'hash-concurrency'] ? [`--${k}`, args[k as 'hash-concurrency'] as string] : [],
  );
  const child: ChildProcess = spawn(
    process.execPath,
    ['--conditions=@flotilla/source', new URL(import.meta.url).pathname, '--serve', join(work, 'data'), ...passThrough],
    { env: { ...process.env, FLOTILLA_ADMIN_TOKEN: token }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    const started = await new Promise<{ url: string; concurrency: unknown; maxWaiting: unknown }>((resolve, reject) => {
      let buffered = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        const line = buffered.split('\n').find((l) => l.startsWith('{"url"'));
        if (line) resolve(JSON.parse(line));
      });
      child.once('exit', (code) => reject(new Error(`server exited with ${code} before listening`)));
    });
    const { url } = started;
    const call = async (method: string, path: string, body?: unknown, type = 'application/json') => {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': type },
        body: body instanceof Buffer ? body : JSON.stringify(body),
      });
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    };
    const src = join(work, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'flotilla.json'), JSON.stringify({ run: { command: 'true' } }));
    writeFileSync(join(src, 'payload.bin'), randomBytes(64 * 1024));
    await tar({ gzip: true, file: join(work, 'web.tar.gz'), cwd: src, portable: true }, [
      'flotilla.json',
      'payload.bin',
    ]);
    await call('POST', '/api/v1/services', { name: 'web' });
    await call(
      'PUT',
      '/api/v1/services/web/versions/1.0.0',
      readFileSync(join(work, 'web.tar.gz')),
      'application/gzip',
    );
    await call('POST', '/api/v1/users', { name: 'alice', role: 'viewer', password: 'the right long password' });
    // alice has logged in from 192.0.2.200 before; 192.0.2.201 is new to the server.
    await honestLogin(url, '192.0.2.200');

    const cpuStart = cpuMs(child.pid);
    const ownStart = process.cpuUsage();
    const quiet = await measure(url, token, new Promise((r) => setTimeout(r, 5000)));
    const cpuQuiet = cpuMs(child.pid);
    const worker = new Worker(new URL(import.meta.url), {
      workerData: { url, clients, seconds, many: args.sources !== 'one' } satisfies FloodJob,
      execArgv: ['--conditions=@flotilla/source'],
    });
    const flooded = new Promise<Record<string, number>>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    // The honest user starts once the flood is under way.
    const honest = new Promise((r) => setTimeout(r, 2000)).then(() =>
      Promise.all([honestLogin(url, '192.0.2.200'), honestLogin(url, '192.0.2.201')]),
    );
    const during = await measure(url, token, flooded);
    const statuses = await flooded;
    const cpuFlood = cpuMs(child.pid);
    const own = process.cpuUsage(ownStart);
    const [knownLogin, newLogin] = await honest;

    const row = (label: string, m: typeof quiet) =>
      `${label.padEnd(13)} check-in p50 ${ms(percentile(m.checkins, 50))}, p99 ${ms(percentile(m.checkins, 99))} (${m.checkins.length}); ` +
      `download p50 ${ms(percentile(m.downloads, 50))}, max ${ms(Math.max(...m.downloads))} (${m.downloads.length})`;
    console.log(
      `hash queue: ${started.concurrency} at once, ${started.maxWaiting} waiting; flood: ${clients} clients, ${seconds} s, ` +
        `${args.sources === 'one' ? 'one address' : 'a random address each'}`,
    );
    console.log(row('quiet:', quiet));
    console.log(row('during flood:', during));
    const total = Object.values(statuses).reduce((a, b) => a + b, 0);
    console.log(`logins: ${total} (${(total / seconds).toFixed(0)}/s), by status ${JSON.stringify(statuses)}`);
    console.log(
      `server CPU: quiet ${((cpuQuiet - cpuStart) / 50).toFixed(0)} %, during flood ${((cpuFlood - cpuQuiet) / (10 * seconds)).toFixed(0)} % of one core; ` +
        `this load generator ${((own.user + own.system) / 1000 / (50 + 10 * seconds)).toFixed(0)} % of one core`,
    );
    for (const [where, login] of [
      ['an address she logged in from before', knownLogin],
      ['a new address', newLogin],
    ] as const) {
      console.log(`alice from ${where}: in after ${ms(login.ms)}, ${login.tries} tries`);
    }
    const failures = [...quiet.failures, ...during.failures];
    if (failures.length > 0) console.log(`FAILED requests: ${failures.length}, first ${failures[0]}`);
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(work, { recursive: true, force: true });
  }
}

if (!isMainThread) parentPort?.postMessage(await flood(workerData as FloodJob));
else if (args.serve) await serve(args.serve);
else if (args.help) console.log('npm run bench:login-flood -- [--duration 20] [--clients 32] [--sources many|one]');
else await main();
