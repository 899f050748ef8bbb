// Drives an upgrade-responder-compatible server with realistic check-ins and prints throughput,
// latency and (for Flotilla) whether every acknowledged check-in was stored.
// Without --url it starts a Flotilla server of its own on a loopback port and stops it afterwards.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string' },
    app: { type: 'string', default: 'bench' },
    token: { type: 'string' },
    connections: { type: 'string', default: '64' },
    duration: { type: 'string', default: '15' },
    pipelining: { type: 'string', default: '1' },
    warmup: { type: 'string', default: '3' },
    database: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log(`npm run bench:checkin -- [--url URL] [--connections N] [--duration S] [--database postgres://…]
  --url          server to drive (default: start a Flotilla server on 127.0.0.1 for the run)
  --app          app name for Flotilla's usage check (default bench)
  --warmup       seconds of load before measuring (default 3)
  --token        admin token of the server at --url, to compare stored and acknowledged counts
  --database     store for the server this script starts (default SQLite in a temp dir)`);
  process.exit(0);
}

const schema = {
  appVersionSchema: { dataType: 'string', maxLen: 50 },
  extraTagInfoSchema: Object.fromEntries(
    ['kubernetesVersion', 'hostKernelRelease', 'hostOsDistro', 'kubernetesNodeProvider', 'cniPlugin', 'arch'].map(
      (k) => [k, { dataType: 'string' }],
    ),
  ),
  extraFieldInfoSchema: {
    nodeCount: { dataType: 'float' },
    volumeCount: { dataType: 'float' },
    diskUsageBytes: { dataType: 'float' },
    backupTargetEnabled: { dataType: 'boolean' },
    namespaceUid: { dataType: 'string' },
  },
};

/** A public-looking IPv4 address outside the private and reserved ranges. */
function randomPublicAddress(): string {
  for (;;) {
    const a = 1 + Math.floor(Math.random() * 223);
    if ([10, 100, 127, 169, 172, 192, 198, 203].includes(a)) continue;
    return `${a}.${Math.floor(Math.random() * 256)}.${Math.floor(Math.random() * 256)}.${1 + Math.floor(Math.random() * 254)}`;
  }
}

function body(): string {
  const minor = Math.floor(Math.random() * 8);
  return JSON.stringify({
    appVersion: `v1.${minor}.${Math.floor(Math.random() * 4)}`,
    extraTagInfo: {
      kubernetesVersion: `v1.${28 + (minor % 4)}.${minor}`,
      hostKernelRelease: '6.1.0-26-amd64',
      hostOsDistro: 'debian',
      kubernetesNodeProvider: minor % 2 ? 'k3s' : 'rke2',
      cniPlugin: 'flannel',
      arch: 'amd64',
    },
    extraFieldInfo: {
      nodeCount: 3 + minor,
      volumeCount: 12,
      diskUsageBytes: 1.2e11,
      backupTargetEnabled: minor % 2 === 0,
      namespaceUid: 'f1c0ffee',
    },
  });
}

async function startOwnServer(): Promise<{ url: string; token: string; child: ChildProcess; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-bench-'));
  writeFileSync(join(dir, 'schema.json'), JSON.stringify(schema));
  writeFileSync(
    join(dir, 'response.json'),
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
    dir,
    '--application-name',
    args.app as string,
  ];
  flags.push('--upgrade-response-config', join(dir, 'response.json'), '--request-schema', join(dir, 'schema.json'));
  flags.push('--trusted-proxies', '127.0.0.0/8', '--rate-limit', '0');
  if (args.database) flags.push('--database', args.database);
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
  return { url, token, child, dir };
}

async function storedCount(url: string, token: string, from: string): Promise<number | null> {
  const res = await fetch(
    `${url}/api/v1/apps/${args.app}/usage?groupBy=total&from=${from}&to=${new Date(Date.now() + 3_600_000).toISOString()}`,
    {
      headers: { authorization: `Bearer ${token}` },
    },
  );
  if (!res.ok) return null;
  const usage = (await res.json()) as { series: Array<{ points: Array<{ checkins: number }> }> };
  return usage.series.flatMap((s) => s.points).reduce((n, p) => n + p.checkins, 0);
}

const own = args.url ? null : await startOwnServer();
const url = args.url ?? (own?.url as string);
const token = args.token ?? own?.token;
const from = new Date(Date.now() - 3_600_000).toISOString();
const target = new URL(
  args.url && /checkupgrade$/.test(new URL(args.url).pathname) ? args.url : `${url.replace(/\/$/, '')}/v1/checkupgrade`,
);

// Bodies and addresses are made up front, so the load generator spends its core on sending.
// autocannon serialises each entry of `requests` once and cycles through them on every connection.
const variants = Array.from({ length: 1024 }, () => ({
  method: 'POST' as const,
  headers: { 'content-type': 'application/json', 'x-forwarded-for': randomPublicAddress() },
  body: body(),
}));
const drive = (duration: number) =>
  autocannon({
    url: target.toString(),
    connections: Number(args.connections),
    duration,
    pipelining: Number(args.pipelining),
    requests: variants,
  });
if (Number(args.warmup) > 0) await drive(Number(args.warmup));
const before = token ? await storedCount(url, token, from) : null;
const result = await drive(Number(args.duration));
const acknowledged = result['2xx'];
// Requests still in flight when the run ends may be stored a moment later.
await new Promise((r) => setTimeout(r, 500));
const after = token ? await storedCount(url, token, from) : null;
const figures = {
  target: target.toString(),
  store: own ? (args.database ? 'PostgreSQL' : 'SQLite') : 'external',
  connections: Number(args.connections),
  durationSeconds: Number(args.duration),
  requestsPerSecond: Math.round(acknowledged / Number(args.duration)),
  latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
  acknowledged,
  errors: result.errors + result.non2xx + result.timeouts,
  stored: after !== null && before !== null ? after - before : 'unknown (pass --token for a Flotilla server)',
  warmupSeconds: Number(args.warmup),
};
console.log(JSON.stringify(figures, null, 2));
if (typeof figures.stored === 'number') {
  console.log(
    figures.stored >= acknowledged
      ? `OK: all ${acknowledged} acknowledged check-ins are stored`
      : `LOST: ${acknowledged - figures.stored} acknowledged check-ins are missing`,
  );
}
if (own) {
  own.child.kill('SIGTERM');
  await new Promise((r) => own.child.once('exit', r));
  rmSync(own.dir, { recursive: true, force: true });
}
