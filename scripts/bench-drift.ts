// Version drift at fleet scale, against a server child process on loopback:
//   1. ingestion: --agents places each send one complete report of --trackers subjects
//      (POST /api/v1/drift/reports), then Opvic one-subject reports (POST /api/v1alpha1/agents);
//   2. upstream requests: the subjects name --upstreams distinct GitHub repositories, served by a local
//      fake that counts requests; once every row is compared exactly --upstreams requests must have been
//      made, and after one TTL exactly as many again, each a conditional request answered 304;
//   3. reads: GET /api/v1/drift latency over (agents × trackers) rows, pages of 100, with filters.
//
//   npm run bench:drift [-- --agents 1000] [--trackers 100] [--upstreams 50] [--database postgres://…]
//   npm run bench:drift -- --help     (every option; figures and how to read them: docs/benchmarks.md)
//
// Prints PASS or MISSED per goal; exits non-zero only on errors. The temp dir, the server process and
// (PostgreSQL) the database it created are removed at the end.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { DriftItem, DriftPage, DriftUpstreamStatus } from '@flotilla/protocol';
import pino from 'pino';
import {
  api,
  cpuMs,
  fakeGithub,
  freshPostgres,
  keepAlive,
  load,
  ms,
  percentile,
  pool,
  sleep,
  verdict,
  waitFor,
  writtenBytes,
} from './bench-drift-support.ts';

const { values: args } = parseArgs({
  options: {
    agents: { type: 'string', default: '1000' },
    trackers: { type: 'string', default: '100' },
    upstreams: { type: 'string', default: '50' },
    'opvic-reports': { type: 'string', default: '10000' },
    'ttl-seconds': { type: 'string', default: '120' },
    reads: { type: 'string', default: '1400' },
    concurrency: { type: 'string', default: '16' },
    database: { type: 'string' },
    profile: { type: 'string' },
    serve: { type: 'string' },
    'github-url': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
const help = `npm run bench:drift -- [--agents N] [--trackers N] [--upstreams N] [--opvic-reports N] [--database postgres://…]
  --agents         places reporting (default 1000); rows stored = agents × trackers
  --trackers       subjects per place (default 100)
  --upstreams      distinct upstream repositories the subjects name (default 50; at most --trackers)
  --opvic-reports  one-subject Opvic reports sent after the batch reports, first with the running
                   versions unchanged, then as many with changed ones (default 10000 each)
  --ttl-seconds    upstream TTL of the server under test (default 120, longer than the comparison of
                   every row takes on SQLite here; PostgreSQL needs 240; production default 1 h)
  --reads          GET /api/v1/drift requests measured one at a time, then as many 8 at a time (default 1400)
  --concurrency    report requests in flight (default 16)
  --database       a PostgreSQL server (URL with a user allowed to create databases): the bench creates a
                   fresh database there and drops it afterwards (default SQLite in a temp dir)
  --profile DIR    write a CPU profile of the server process (.cpuprofile) into DIR`;
const agents = Number(args.agents);
const trackers = Number(args.trackers);
const upstreams = Number(args.upstreams);
const ttlSeconds = Number(args['ttl-seconds']);
const rows = agents * trackers;

/** The server, in a child process so the load generator does not share its event loop. */
async function serve(dataDir: string): Promise<void> {
  const { resolveServerConfig } = await import('../packages/server/src/config/config.ts');
  const { startServer } = await import('../packages/server/src/start.ts');
  const options = {
    host: '127.0.0.1',
    port: '0',
    dataDir,
    driftGithubUrl: args['github-url'],
    driftUpstreamTtl: `${ttlSeconds}s`,
    ...(args.database ? { database: args.database } : {}),
  };
  const config = resolveServerConfig(options, { FLOTILLA_ADMIN_TOKEN: process.env.FLOTILLA_ADMIN_TOKEN }, dataDir);
  const server = await startServer(config, { logger: pino({ level: 'warn' }, pino.destination(2)) });
  console.log(JSON.stringify({ url: server.url }));
  process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
}

/** Latest upstream is v1.9.2: one row in 20 runs a major behind, 2 are current, 3 a patch behind, the rest minors. */
function runningVersion(n: number): string {
  const k = n % 20;
  return k === 0 ? 'v0.9.0' : k <= 2 ? 'v1.9.2' : k <= 5 ? 'v1.9.0' : `v1.${k % 9}.1`;
}
const upstreamOf = (t: number) => ({
  provider: 'github' as const,
  strategy: 'releases' as const,
  repo: `bench/r${t % upstreams}`,
});
const subject = (agent: number, t: number, n = agent * 7 + t) => ({
  subject: `app-${t}`,
  namespace: 'default',
  versions: [{ runningVersion: runningVersion(n), resourceCount: 3, resourceKind: 'Deployment' }],
  upstream: upstreamOf(t),
});

async function main(): Promise<void> {
  const counts = [agents, trackers, upstreams, ttlSeconds, Number(args.reads), Number(args.concurrency)];
  if (!counts.every((n) => Number.isInteger(n) && n > 0) || upstreams > trackers)
    throw new Error(
      '--agents, --trackers, --upstreams (at most --trackers), --ttl-seconds, --reads and --concurrency take positive integers',
    );
  const work = mkdtempSync(join(tmpdir(), 'flotilla-bench-drift-'));
  const github = fakeGithub();
  const admin = `flt_bench_${randomBytes(12).toString('hex')}`;
  let child: ChildProcess | undefined;
  let database: Awaited<ReturnType<typeof freshPostgres>> | undefined;
  try {
    const githubUrl = await new Promise<string>((resolve) =>
      github.server.listen(0, '127.0.0.1', () => {
        const address = github.server.address();
        resolve(`http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`);
      }),
    );
    if (args.database) database = await freshPostgres(args.database);
    const serveArgs = ['--serve', work, '--github-url', githubUrl, '--ttl-seconds', String(ttlSeconds)];
    if (database) serveArgs.push('--database', database.url);
    const server = spawn(
      process.execPath,
      [
        '--conditions=@flotilla/source',
        ...(args.profile ? ['--cpu-prof', '--cpu-prof-dir', args.profile] : []),
        new URL(import.meta.url).pathname,
        ...serveArgs,
      ],
      { env: { ...process.env, FLOTILLA_ADMIN_TOKEN: admin }, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    child = server;
    const url = await new Promise<string>((resolve, reject) => {
      let buffered = '';
      server.stdout?.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        const line = buffered.split('\n').find((l) => l.startsWith('{"url"'));
        if (line) resolve((JSON.parse(line) as { url: string }).url);
      });
      server.once('exit', (code) => reject(new Error(`server exited with ${code} before listening`)));
    });
    const call = <T>(method: string, path: string, body?: unknown) => api<T>(url, admin, method, path, body);
    await call('POST', '/api/v1/environments', { name: 'bench' });
    const { token } = await call<{ token: string }>('POST', '/api/v1/tokens', {
      kind: 'agent',
      name: 'bench-drift',
      environment: 'bench',
    });
    const store = database ? 'PostgreSQL' : 'SQLite';
    console.log(
      `drift bench: ${agents} agents × ${trackers} subjects over ${upstreams} upstreams, ${store}, TTL ${ttlSeconds} s`,
    );
    console.log(`at start: ${load()}`);
    const concurrency = Number(args.concurrency);
    const cpu = () => ({ server: cpuMs(server.pid), own: process.cpuUsage(), written: writtenBytes(server.pid) });
    const cpuNote = (from: ReturnType<typeof cpu>, seconds: number) => {
      const own = process.cpuUsage(from.own);
      const serverPct = (cpuMs(server.pid) - from.server) / (10 * seconds);
      const written = (writtenBytes(server.pid) - from.written) / 1024 / 1024;
      return (
        `server CPU ${serverPct.toFixed(0)} %, load generator ${((own.user + own.system) / 10_000 / seconds).toFixed(0)} % of one core` +
        (database ? '' : `; server wrote ${written.toFixed(0)} MB`)
      );
    };

    // 1. Ingestion.
    const firstReport = performance.now();
    let before = cpu();
    let started = performance.now();
    const batch = await pool(agents, concurrency, async (i) => {
      await api(url, token, 'POST', '/api/v1/drift/reports', {
        agentId: `cluster-${i}`,
        tags: { region: `r${i % 4}` },
        complete: true,
        subjects: Array.from({ length: trackers }, (_, t) => subject(i, t)),
      });
    });
    let seconds = (performance.now() - started) / 1000;
    const batchRate = agents / seconds;
    console.log(
      `batch reports: ${agents} of ${trackers} subjects in ${seconds.toFixed(1)} s = ${batchRate.toFixed(0)} reports/s, ` +
        `${(rows / seconds).toFixed(0)} subjects/s; p50 ${ms(percentile(batch, 0.5))}, p99 ${ms(percentile(batch, 0.99))}; ${cpuNote(before, seconds)}`,
    );
    // 2. Upstream requests. The upstream status route is the cheap signal; reading every row is the proof.
    const lastReport = performance.now();
    await waitFor(
      'the upstream status to count every row',
      async () => {
        const status = await call<DriftUpstreamStatus[]>('GET', '/api/v1/drift/upstreams');
        const counted = status.reduce((n, u) => n + u.subjects, 0);
        return status.length >= upstreams && status.every((u) => u.fetchedAt !== null) && counted >= rows;
      },
      600_000,
    );
    const behind: Record<string, number> = {};
    let after: string | null = null;
    let read = 0;
    const deadline = Date.now() + 600_000;
    for (;;) {
      const cursor = after ? `&after=${encodeURIComponent(after)}` : '';
      const page: DriftPage = await call<DriftPage>('GET', `/api/v1/drift?limit=500${cursor}`);
      // A row still waiting (a re-reported one) is read again, in its page, until it is compared.
      if (page.items.some((i: DriftItem) => i.resolvedAt === null)) {
        if (Date.now() > deadline) throw new Error(`rows still not compared after 600 s (page after ${after})`);
        await sleep(500);
        continue;
      }
      for (const i of page.items) {
        const key = i.resolveError ? 'error' : (i.behind ?? 'null');
        behind[key] = (behind[key] ?? 0) + 1;
      }
      read += page.items.length;
      after = page.next;
      if (after === null) break;
    }
    const comparedAt = { ...github.counts };
    const written = (writtenBytes(server.pid) / 1024 / 1024).toFixed(0);
    const files = database ? [] : readdirSync(work).filter((f) => f.startsWith('flotilla.db'));
    const size = files.reduce((n, f) => n + statSync(join(work, f)).size, 0) / 1024 / 1024;
    if (!database) console.log(`server wrote ${written} MB so far; ${files.join(' + ')}: ${size.toFixed(0)} MB`);
    const afterLast = (performance.now() - lastReport) / 1000;
    const sinceFirst = (performance.now() - firstReport) / 1000;
    console.log(
      `every row compared (${read} read back, by how far behind ${JSON.stringify(behind)}) ${afterLast.toFixed(1)} s after ` +
        `the last report, ${sinceFirst.toFixed(1)} s after the first: ${comparedAt.requests} upstream requests ` +
        `(${comparedAt.conditional} conditional) for ${upstreams} distinct upstreams`,
    );
    verdict(read === rows, `every one of the ${rows} rows is stored and compared`);
    verdict(comparedAt.requests === upstreams, 'upstream requests = distinct upstreams');
    if (sinceFirst > ttlSeconds)
      console.log(
        `  (the comparison took longer than the TTL: a count above the distinct upstreams then includes the next TTL; give a larger --ttl-seconds)`,
      );

    started = performance.now();
    await waitFor(
      'one TTL of refreshes',
      async () => github.counts.requests - comparedAt.requests >= upstreams,
      2 * ttlSeconds * 1000 + 60_000,
      250,
    );
    await sleep(3000); // any request beyond one per upstream would come with the same refresh
    const waited = (performance.now() - started) / 1000;
    const again = {
      requests: github.counts.requests - comparedAt.requests,
      conditional: github.counts.conditional - comparedAt.conditional,
      notModified: github.counts.notModified - comparedAt.notModified,
    };
    console.log(
      `after one TTL (${waited.toFixed(0)} s later): ${again.requests} requests, ${again.conditional} conditional, ${again.notModified} answered 304`,
    );
    verdict(
      again.requests === upstreams && again.notModified === upstreams,
      'one conditional request per distinct upstream per TTL, answered 304',
    );
    if (github.counts.unknown > 0) console.log(`  ${github.counts.unknown} requests for paths the fake does not serve`);

    // 3. Opvic agents' one-subject reports, once every row is compared (the first comparison is not
    // counted here): first each changes a running version (stored, compared again by the resolver),
    // then the same reports again, as agents re-send unchanged subjects (nothing to write).
    const opvicCount = Number(args['opvic-reports']);
    for (const changed of [true, false]) {
      before = cpu();
      started = performance.now();
      const opvic = await pool(opvicCount, concurrency, async (i) => {
        const agent = i % agents;
        const t = Math.floor(i / agents) % trackers;
        const { subject: id, upstream, versions, namespace } = subject(agent, t, i + 1);
        await api(url, token, 'POST', '/api/v1alpha1/agents', {
          agentId: `cluster-${agent}`,
          agentTags: { region: `r${agent % 4}` },
          version: { id, namespace, versions, remoteVersion: upstream },
        });
      });
      seconds = (performance.now() - started) / 1000;
      const opvicRate = opvicCount / seconds;
      console.log(
        `Opvic one-subject reports, ${changed ? 'running version changed' : 'unchanged, re-sent'}: ${opvicCount} in ${seconds.toFixed(1)} s = ` +
          `${opvicRate.toFixed(0)} reports/s; p50 ${ms(percentile(opvic, 0.5))}, p99 ${ms(percentile(opvic, 0.99))}; ${cpuNote(before, seconds)}; ${load()}`,
      );
      verdict(
        opvicRate >= 2000,
        `Opvic one-subject ingestion${changed ? ' (changed)' : ' (unchanged)'} >= 2,000 reports/s${database ? ' (goal set for SQLite)' : ''}`,
      );
    }

    // 4. Reads: each filter walks its pages with the cursor (deep pages, not only the first).
    const filters = [
      '',
      '&environment=bench',
      `&place=cluster-${Math.floor(agents / 2)}`,
      '&subject=app-7',
      '&tag=region:r1',
      '&behind=minor',
      '&behind=major',
    ];
    const cursors = new Map<string, string | null>();
    const perFilter = new Map<string, number[]>();
    const readOnce = async (i: number) => {
      const filter = filters[i % filters.length] ?? '';
      const cursor = cursors.get(filter);
      const startedAt = performance.now();
      const page = await call<DriftPage>(
        'GET',
        `/api/v1/drift?limit=100${filter}${cursor ? `&after=${encodeURIComponent(cursor)}` : ''}`,
      );
      const latencies = perFilter.get(filter) ?? [];
      latencies.push(performance.now() - startedAt);
      perFilter.set(filter, latencies);
      cursors.set(filter, page.next);
    };
    const reads = Number(args.reads);
    const serial = await pool(reads, 1, readOnce);
    console.log(
      `GET /api/v1/drift over ${rows} rows, pages of 100, one at a time: ${reads} requests, p50 ${ms(percentile(serial, 0.5))}, ` +
        `p99 ${ms(percentile(serial, 0.99))}, max ${ms(serial.at(-1) ?? 0)}; ${load()}`,
    );
    for (const [filter, latencies] of perFilter) {
      latencies.sort((a, b) => a - b);
      console.log(
        `  ${(filter.slice(1) || '(no filter)').padEnd(22)} p50 ${ms(percentile(latencies, 0.5))}, p99 ${ms(percentile(latencies, 0.99))}`,
      );
    }
    verdict(percentile(serial, 0.99) < 100, `GET /api/v1/drift p99 < 100 ms over ${rows} rows`);
    const parallel = await pool(reads, 8, readOnce);
    console.log(`  8 at a time: p50 ${ms(percentile(parallel, 0.5))}, p99 ${ms(percentile(parallel, 0.99))}`);
    console.log(`at the end: ${load()}`);
  } finally {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child?.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    keepAlive.destroy();
    github.server.close();
    await database?.drop();
    rmSync(work, { recursive: true, force: true });
  }
}

if (args.help) console.log(help);
else if (args.serve) await serve(args.serve);
else await main();
