// What the mesh prober costs a node: CPU and resident memory of a process probing 50 peers (HTTPS
// echo servers with mutual TLS on loopback, in a process of their own) against the same process idle.
//
//   node --conditions=@flotilla/source scripts/bench-mesh-prober.ts [--peers 50] [--seconds 30]
//        [--interval 1000] [--max-per-round 20] [--handshake-every 10] [--plain]
//
// The mesh modules are compiled to JavaScript first (as an installed agent runs them), so the prober's
// thread does not pay for TypeScript stripping. Both node processes load the same modules.
// Goal (issue: network mesh): CPU < 2 % of one core and RSS at most 20 MB more than without the prober.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { makeTestPki } from '../packages/agent/src/mesh/tls.test.helper.ts';

const { values: args } = parseArgs({
  options: {
    peers: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '30' },
    interval: { type: 'string', default: '1000' },
    'max-per-round': { type: 'string', default: '20' },
    'handshake-every': { type: 'string', default: '10' },
    plain: { type: 'boolean', default: false },
    role: { type: 'string', default: 'main' },
    probe: { type: 'boolean', default: false },
    config: { type: 'string', default: '' },
  },
});

interface Config {
  peers: number;
  seconds: number;
  intervalMs: number;
  maxPeersPerRound: number;
  handshakeEvery: number;
  /** The compiled mesh modules. */
  moduleDir: string;
  tls?: { ca: string; cert: string; key: string };
  ports?: number[];
}

interface Figures {
  cpuPercent: number;
  rssMb: number;
  heapMb: number;
  results: number;
  failed: number;
  stalled: number;
  requestP50Ms: number;
}

if (args.role === 'servers') await serve(JSON.parse(args.config) as Config);
else if (args.role === 'node') await node(JSON.parse(args.config) as Config, args.probe);
else await main();

/** The peers: one echo server per peer, mutual TLS unless --plain. Prints the ports, runs until killed. */
async function serve(config: Config) {
  const { writeEchoResponse, MESH_ECHO_PATH } = (await import(
    join(config.moduleDir, 'mesh', 'probe-echo.js')
  )) as typeof import('../packages/agent/src/mesh/probe-echo.ts');
  const ports: number[] = [];
  for (let i = 0; i < config.peers; i++) {
    const name = `peer-${i}`;
    const handler: http.RequestListener = (req, res) => {
      if (req.url === MESH_ECHO_PATH) writeEchoResponse(res, name);
      else res.writeHead(404).end();
    };
    const server = config.tls
      ? https.createServer({ ...config.tls, requestCert: true, rejectUnauthorized: true }, handler)
      : http.createServer(handler);
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    ports.push((server.address() as AddressInfo).port);
  }
  process.stdout.write(`${JSON.stringify(ports)}\n`);
}

/** A node process, probing or not: idles 5 s to settle, then measures for `seconds`. */
async function node(config: Config, probe: boolean) {
  const { startProber } = (await import(
    join(config.moduleDir, 'mesh', 'probe-runner.js')
  )) as typeof import('../packages/agent/src/mesh/probe-runner.ts');
  const { createSummaryBook } = (await import(
    join(config.moduleDir, 'mesh', 'summaries.js')
  )) as typeof import('../packages/agent/src/mesh/summaries.ts');
  const book = createSummaryBook('bench');
  let results = 0;
  let failed = 0;
  let stalled = 0;
  const requests: number[] = [];
  const prober = probe
    ? startProber({
        self: 'bench',
        tls: config.tls,
        intervalMs: config.intervalMs,
        maxPeersPerRound: config.maxPeersPerRound,
        handshakeEvery: config.handshakeEvery,
        onResult: (result) => {
          book.add(result);
          results++;
          if (result.stalled) stalled++;
          for (const sample of result.samples) {
            if (!sample.ok) failed++;
            else if (sample.phase === 'request' && sample.seconds !== undefined) requests.push(sample.seconds);
          }
        },
      })
    : undefined;
  prober?.setPeers((config.ports ?? []).map((port, i) => ({ name: `peer-${i}`, address: `127.0.0.1:${port}` })));
  await sleep(5000);
  results = failed = stalled = 0;
  requests.length = 0;
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  let rssSum = 0;
  let samples = 0;
  for (let s = 0; s < config.seconds; s++) {
    await sleep(1000);
    rssSum += process.memoryUsage.rss();
    samples++;
  }
  const used = process.cpuUsage(cpu);
  const wall = Number(process.hrtime.bigint() - start) / 1e3;
  requests.sort((a, b) => a - b);
  const figures: Figures = {
    cpuPercent: ((used.user + used.system) / wall) * 100,
    rssMb: rssSum / samples / 2 ** 20,
    heapMb: process.memoryUsage().heapUsed / 2 ** 20,
    results,
    failed,
    stalled,
    requestP50Ms: (requests[Math.floor(requests.length / 2)] ?? 0) * 1000,
  };
  await prober?.stop();
  process.stdout.write(`${JSON.stringify(figures)}\n`);
}

function runChild(role: string, config: Config, extra: string[] = []): { child: ChildProcess; line: Promise<string> } {
  const child = spawn(
    process.execPath,
    [
      ...process.execArgv,
      new URL(import.meta.url).pathname,
      '--role',
      role,
      '--config',
      JSON.stringify(config),
      ...extra,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const line = new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk;
      if (out.includes('\n')) resolve(out.split('\n')[0] as string);
    });
    child.once('exit', (code) => reject(new Error(`${role} exited with ${code} before answering`)));
  });
  return { child, line };
}

/** Compiles the prober's modules (and what they import) to JavaScript in `dir`. */
function compile(dir: string) {
  const src = new URL('../packages/agent/src/', import.meta.url).pathname;
  const tsc = new URL('../node_modules/.bin/tsc', import.meta.url).pathname;
  execFileSync(tsc, [
    ...['--outDir', dir, '--rootDir', src, '--module', 'nodenext', '--moduleResolution', 'nodenext'],
    ...['--target', 'es2023', '--rewriteRelativeImportExtensions', '--allowImportingTsExtensions'],
    ...['--skipLibCheck', '--types', 'node', '--erasableSyntaxOnly', '--verbatimModuleSyntax'],
    ...['probe-runner.ts', 'probe-worker.ts', 'probe-echo.ts', 'summaries.ts'].map((file) => join(src, 'mesh', file)),
  ]);
}

async function main() {
  // Inside the repository, so the compiled modules resolve @flotilla/protocol through node_modules.
  const cache = new URL('../node_modules/.cache/', import.meta.url).pathname;
  mkdirSync(cache, { recursive: true });
  const moduleDir = mkdtempSync(join(cache, 'flotilla-bench-mesh-'));
  const config: Config = {
    peers: Number(args.peers),
    seconds: Number(args.seconds),
    intervalMs: Number(args.interval),
    maxPeersPerRound: Number(args['max-per-round']),
    handshakeEvery: Number(args['handshake-every']),
    moduleDir,
  };
  const pki = args.plain ? undefined : makeTestPki();
  let servers: ChildProcess | undefined;
  try {
    compile(moduleDir);
    if (pki) {
      const server = pki.node('peer');
      const client = pki.node('bench');
      config.tls = { ca: pki.ca.toString(), cert: server.cert.toString(), key: server.key.toString() };
      const started = runChild('servers', config);
      servers = started.child;
      config.ports = JSON.parse(await started.line) as number[];
      config.tls = { ca: pki.ca.toString(), cert: client.cert.toString(), key: client.key.toString() };
    } else {
      const started = runChild('servers', config);
      servers = started.child;
      config.ports = JSON.parse(await started.line) as number[];
    }
    // One after the other, so the two do not compete for the 2 cores.
    const without = JSON.parse(await runChild('node', config).line) as Figures;
    const withProber = JSON.parse(await runChild('node', config, ['--probe']).line) as Figures;
    const f = (n: number, digits = 1) => n.toFixed(digits);
    console.log(
      `mesh prober, ${config.peers} peers over ${pki ? 'mutual TLS' : 'plain HTTP'}, a round every ${config.intervalMs} ms ` +
        `of at most ${config.maxPeersPerRound} peers, a fresh connection every ${config.handshakeEvery} probes of a peer, ` +
        `measured ${config.seconds} s (after 5 s to settle); load average before: ${loadavg()
          .map((l) => l.toFixed(2))
          .join(' ')}`,
    );
    console.log('process            CPU %   RSS MB   heap MB');
    console.log(
      `without prober   ${f(without.cpuPercent, 2).padStart(7)} ${f(without.rssMb).padStart(8)} ${f(without.heapMb).padStart(9)}`,
    );
    console.log(
      `with prober      ${f(withProber.cpuPercent, 2).padStart(7)} ${f(withProber.rssMb).padStart(8)} ${f(withProber.heapMb).padStart(9)}`,
    );
    const extraRss = withProber.rssMb - without.rssMb;
    const extraCpu = withProber.cpuPercent - without.cpuPercent;
    console.log(`prober adds      ${f(extraCpu, 2).padStart(7)} ${f(extraRss).padStart(8)}`);
    console.log(
      `probes: ${withProber.results} (${f(withProber.results / config.seconds)}/s), failed phases ${withProber.failed}, ` +
        `stalled ${withProber.stalled}, request p50 ${f(withProber.requestP50Ms, 3)} ms`,
    );
    const ok = withProber.cpuPercent < 2 && extraRss <= 20 && withProber.failed === 0;
    console.log(`goal (CPU < 2 %, RSS ≤ +20 MB, no failed probes): ${ok ? 'met' : 'NOT met'}`);
    process.exitCode = ok ? 0 : 1;
  } finally {
    servers?.kill();
    pki?.cleanup();
    rmSync(moduleDir, { recursive: true, force: true });
  }
}
