// Drives an upgrade-responder-compatible server with realistic check-ins and prints throughput,
// latency and, for Flotilla, whether every acknowledged check-in was stored.
// Without --url it starts a Flotilla server of its own on a loopback port and stops it afterwards.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runAutocannon } from './load-autocannon.ts';
import { hasWrk, runWrk } from './load-wrk.ts';
import { type LoadOptions, makeRequests, requestSchema } from './workload.ts';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string' },
    app: { type: 'string', default: 'bench' },
    token: { type: 'string' },
    connections: { type: 'string', default: '256' },
    duration: { type: 'string', default: '15' },
    warmup: { type: 'string', default: '3' },
    generator: { type: 'string' },
    database: { type: 'string' },
    'checkin-threads': { type: 'string' },
    baseline: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log(`npm run bench:checkin -- [--url URL] [--connections N] [--duration S] [--database postgres://…]
  --url          server to drive (default: start a Flotilla server on 127.0.0.1 for the run)
  --connections  keep-alive connections (default 256)
  --duration     seconds measured (default 15), after --warmup seconds of load (default 3)
  --generator    wrk (default when installed: apt-get install wrk) or autocannon
  --app          app name for Flotilla's stored-count check (default bench)
  --token        admin token of the server at --url, to compare stored and acknowledged counts
  --database     store for the server this script starts (default SQLite in a temp dir)
  --checkin-threads  passed to the server this script starts (default: the server's own default)
  --baseline     also drive a bare node:http server (no storage) on 1 and 2 threads with the same
                 load, to show what this machine allows at the moment; printed as baseline`);
  process.exit(0);
}

const work = mkdtempSync(join(tmpdir(), 'flotilla-bench-'));

async function startOwnServer(): Promise<{ url: string; token: string; child: ChildProcess }> {
  writeFileSync(join(work, 'schema.json'), JSON.stringify(requestSchema));
  writeFileSync(
    join(work, 'response.json'),
    JSON.stringify({ versions: [{ name: 'v1.8.0', releaseDate: '2026-01-01T00:00:00Z', tags: ['latest'] }] }),
  );
  const token = `flt_bench_${Math.random().toString(36).slice(2)}`;
  const cli = new URL('../packages/cli/src/main.ts', import.meta.url).pathname;
  const flags = [
    'server',
    '--host',
    '127.0.0.1',
    '--port',
    '0',
    '--data-dir',
    work,
    '--application-name',
    args.app as string,
  ];
  flags.push('--upgrade-response-config', join(work, 'response.json'), '--request-schema', join(work, 'schema.json'));
  flags.push('--trusted-proxies', '127.0.0.0/8', '--rate-limit', '0');
  if (args.database) flags.push('--database', args.database);
  if (args['checkin-threads']) flags.push('--checkin-threads', args['checkin-threads']);
  const child = spawn(process.execPath, ['--conditions=@flotilla/source', cli, ...flags], {
    env: { ...process.env, FLOTILLA_ADMIN_TOKEN: token, FLOTILLA_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let buffered = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const m = /"url":"(http:\/\/[^"]+)"/.exec(buffered);
      if (m) resolve(m[1] as string);
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code} before listening`)));
  });
  return { url, token, child };
}

/** User + system CPU time (ms) of a process, from /proc (Linux; clock ticks are 10 ms). */
function serverCpuMs(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return null;
  }
}

/** Check-ins the server has stored since `from`, from its usage API (null when it has none). */
async function storedCount(url: string, token: string, from: string): Promise<number | null> {
  const to = new Date(Date.now() + 3_600_000).toISOString();
  const res = await fetch(`${url}/api/v1/apps/${args.app}/usage?groupBy=total&from=${from}&to=${to}`, {
    headers: { authorization: `Bearer ${token}` },
  }).catch(() => null);
  if (!res?.ok) return null;
  const usage = (await res.json()) as { series: Array<{ points: Array<{ checkins: number }> }> };
  return usage.series.flatMap((s) => s.points).reduce((n, p) => n + p.checkins, 0);
}

/** Requests/s of a bare node:http server on 1 and 2 threads under the same load (no storage). */
async function baseline(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const threads of [1, 2]) {
    const script = new URL('./baseline-server.ts', import.meta.url).pathname;
    const child = spawn(process.execPath, [script, String(threads)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout?.once('data', (chunk: Buffer) => resolve(JSON.parse(chunk.toString()).url));
      child.once('exit', (code) => reject(new Error(`baseline server exited with ${code}`)));
    });
    const opts = { url, connections: Number(args.connections), requests };
    await (generator === 'wrk' ? runWrk : runAutocannon)({ ...opts, durationSeconds: Number(args.warmup) }, work);
    const result = await (generator === 'wrk' ? runWrk : runAutocannon)(
      { ...opts, durationSeconds: Number(args.duration) },
      work,
    );
    out[`bareNodeRequestsPerSecond${threads}Thread${threads > 1 ? 's' : ''}`] = Math.round(
      result.acknowledged / Number(args.duration),
    );
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
  return out;
}

const own = args.url ? null : await startOwnServer();
const base = (args.url ?? own?.url ?? '').replace(/\/$/, '');
const token = args.token ?? own?.token;
const target = /checkupgrade$/.test(new URL(base).pathname) ? base : `${base}/v1/checkupgrade`;
const generator = args.generator ?? ((await hasWrk()) ? 'wrk' : 'autocannon');
const drive = (durationSeconds: number) => {
  const opts: LoadOptions = { url: target, connections: Number(args.connections), durationSeconds, requests };
  return generator === 'wrk' ? runWrk(opts, work) : runAutocannon(opts);
};
const requests = makeRequests(1024);
const from = new Date(Date.now() - 3_600_000).toISOString();

try {
  if (Number(args.warmup) > 0) await drive(Number(args.warmup));
  const before = token ? await storedCount(base, token, from) : null;
  const cpuBefore = serverCpuMs(own?.child.pid);
  const result = await drive(Number(args.duration));
  const cpuAfter = serverCpuMs(own?.child.pid);
  // Requests still in flight when the run ends may be stored a moment later.
  await new Promise((r) => setTimeout(r, 500));
  const after = token ? await storedCount(base, token, from) : null;
  const stored = after !== null && before !== null ? after - before : null;
  console.log(
    JSON.stringify(
      {
        target,
        store: own ? (args.database ? 'PostgreSQL' : 'SQLite') : 'external',
        generator: result.generator,
        connections: Number(args.connections),
        durationSeconds: Number(args.duration),
        warmupSeconds: Number(args.warmup),
        requestsPerSecond: Math.round(result.acknowledged / Number(args.duration)),
        latencyMs: result.latencyMs,
        acknowledged: result.acknowledged,
        errors: result.errors,
        stored: stored ?? 'unknown (pass --token for a Flotilla server)',
        // Less noisy than requests/s on a shared machine: what each check-in cost the server process.
        serverCpuMicrosPerCheckin:
          cpuBefore !== null && cpuAfter !== null && result.acknowledged > 0
            ? Math.round(((cpuAfter - cpuBefore) * 1000) / result.acknowledged)
            : 'unknown (only for a server this script starts, on Linux)',
      },
      null,
      2,
    ),
  );
  if (stored !== null) {
    console.log(
      stored >= result.acknowledged
        ? `OK: all ${result.acknowledged} acknowledged check-ins are stored`
        : `LOST: ${result.acknowledged - stored} acknowledged check-ins are missing`,
    );
  }
  if (args.baseline) console.log(JSON.stringify({ baseline: await baseline() }, null, 2));
} finally {
  if (own) {
    own.child.kill('SIGTERM');
    await new Promise((r) => own.child.once('exit', r));
  }
  rmSync(work, { recursive: true, force: true });
}
