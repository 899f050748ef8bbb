// What the mesh costs an agent: CPU and resident memory of a real `flotilla agent` process whose
// environment has the mesh on, with 50 peers on loopback, against the same agent with the mesh off.
//
//   tsc -b packages/cli && node --conditions=@flotilla/source scripts/bench-mesh-agent.ts [--peers 50]
//        [--seconds 60] [--warmup 20] [--max-peers-per-round N] [--plain-server] [--source] [--profile DIR]
//
// The server and the peers run in this process; the peers are light mesh nodes (membership, the mesh
// port with mutual TLS and the echo path, certificates from the server's CA) that do not probe, so the
// agent is the only prober. The agent runs built (`packages/cli/dist/main.js`, as installed) unless
// --source (TypeScript stripped at load, in the prober's thread too: more memory). Both agents reach the
// control plane over HTTPS, as deployed (a TLS proxy in this process, trusted via NODE_EXTRA_CA_CERTS),
// so the TLS library's start-up is in both; --plain-server uses plain HTTP and charges it to the mesh.
// Goal (issue: network mesh): CPU < 2 % of one core and RSS at most 20 MB more than without the mesh.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createServer as createTlsServer } from 'node:tls';
import { parseArgs } from 'node:util';
import { checkMeshPeer, meshServerIdentityCheck } from '@flotilla/protocol/mesh-peer';
import { startAdminServer } from '../bench/admin-server.ts';
import type { Membership } from '../packages/agent/src/mesh/contracts.ts';
import { createMembership } from '../packages/agent/src/mesh/membership.ts';
import { writeEchoResponse } from '../packages/agent/src/mesh/probe-echo.ts';
import { MESH_ECHO_PATH } from '../packages/agent/src/mesh/probe-types.ts';
import { type MeshTransport, startTransport } from '../packages/agent/src/mesh/transport.ts';

const { values: args } = parseArgs({
  options: {
    peers: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '60' },
    warmup: { type: 'string', default: '20' },
    'max-peers-per-round': { type: 'string' },
    source: { type: 'boolean', default: false },
    'plain-server': { type: 'boolean', default: false },
    /** Directory for CPU profiles of the measured agents (one file per thread, written when it stops). */
    profile: { type: 'string' },
  },
});
const peerCount = Number(args.peers);
const seconds = Number(args.seconds);
const warmup = Number(args.warmup);
const maxPeers = args['max-peers-per-round'] === undefined ? null : Number(args['max-peers-per-round']);
const root = new URL('..', import.meta.url).pathname;
const built = join(root, 'packages/cli/dist/main.js');
if (!args.source && !existsSync(built)) throw new Error(`${built} is missing: run tsc -b packages/cli first`);
const work = mkdtempSync(join(tmpdir(), 'flotilla-bench-mesh-agent-'));
const { server, call } = await startAdminServer(work);
const agentServer = args['plain-server'] ? { url: server.url, env: {} } : await startTlsProxy(server.url);

/** A TLS front for the control plane with a throw-away certificate for 127.0.0.1. */
async function startTlsProxy(upstream: string) {
  const key = join(work, 'proxy-key.pem');
  const cert = join(work, 'proxy-cert.pem');
  execFileSync(
    'openssl',
    [
      ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1'],
      ...['-keyout', key, '-out', cert, '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
    ],
    { stdio: 'ignore' },
  );
  const target = new URL(upstream);
  const proxy = createTlsServer({ key: readFileSync(key), cert: readFileSync(cert) }, (socket) => {
    const up = connect(Number(target.port), target.hostname);
    socket.pipe(up).pipe(socket);
    socket.on('error', () => up.destroy());
    up.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  proxy.unref();
  const port = (proxy.address() as { port: number }).port;
  return { url: `https://127.0.0.1:${port}`, env: { NODE_EXTRA_CA_CERTS: cert } };
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

async function agentCall(token: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json() as Promise<Record<string, unknown>>;
}

interface Peer {
  name: string;
  credential: string;
  membership: Membership;
  transport: MeshTransport;
}

/** A peer that answers membership and the echo path over mutual TLS, with a certificate from the server. */
async function startPeer(name: string, agentToken: string, join: string[]): Promise<Peer> {
  const enrolled = await agentCall(agentToken, 'POST', '/api/v1/agent/enroll', { instanceId: name });
  const credential = enrolled.credential as string;
  const port = await freePort();
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const signed = await agentCall(credential, 'POST', '/api/v1/agent/mesh/certificate', {
    publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    address: `127.0.0.1:${port}`,
  });
  const ca = signed.caCertificate as string;
  let membership: Membership | undefined;
  const transport = await startTransport({
    listenAddress: '127.0.0.1',
    listenPort: port,
    tls: {
      mode: 'mutual',
      cert: Buffer.from(signed.certificate as string),
      key: Buffer.from(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()),
      ca: [Buffer.from(ca)],
    },
    tokens: [],
    onMessage: (message) => membership?.receive(message),
    routes: { [MESH_ECHO_PATH]: (_req, res) => writeEchoResponse(res, name) },
    verifyClient: (socket) => {
      const cert = socket.getPeerX509Certificate();
      if (!cert) throw new Error('no client certificate');
      checkMeshPeer(cert, { ca, environment: 'bench' });
    },
    checkServerIdentity: meshServerIdentityCheck({ ca, environment: 'bench' }),
  });
  membership = createMembership({
    self: { name, address: `127.0.0.1:${port}` },
    clock: {
      now: () => Date.now(),
      setTimeout: (run, ms) => setTimeout(run, ms),
      clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
    },
    random: Math.random,
    send: transport.send,
    // The peers answer the agent's probes; among themselves they probe rarely, to leave the CPU to it.
    probeIntervalMs: 30_000,
  });
  if (join.length > 0) membership.join(join);
  return { name, credential, membership, transport };
}

const statusKiB = (pid: number, field: string) =>
  Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return Number(fields[11]) + Number(fields[12]);
}
/** User and system ticks per thread name (libuv's pool threads share one name, and are summed). */
function threadTicks(pid: number): Map<string, { user: number; system: number }> {
  const out = new Map<string, { user: number; system: number }>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const t = out.get(name) ?? { user: 0, system: 0 };
      t.user += Number(fields[11]);
      t.system += Number(fields[12]);
      out.set(name, t);
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}
function threadNote(before: Map<string, { user: number; system: number }>, pid: number, secs: number): string {
  const rows: string[] = [];
  for (const [name, t] of threadTicks(pid)) {
    const b = before.get(name) ?? { user: 0, system: 0 };
    const user = (t.user - b.user) / secs;
    const system = (t.system - b.system) / secs;
    if (user + system >= 0.05) rows.push(`${name} ${user.toFixed(2)} % user + ${system.toFixed(2)} % system`);
  }
  return rows.join('; ');
}
function agentPidUnder(launcher: number): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (ppid === launcher && cmd.includes('agent')) return Number(entry);
    } catch {}
  }
  return undefined;
}

interface Figures {
  cpu: number;
  rssMb: number;
  anonMb: number;
}

/** Runs one agent in `environment` until it is a mesh node (or has synced), then measures it idle. */
async function measureAgent(environment: string, token: string, meshOn: boolean): Promise<Figures> {
  const instance = `agent-${environment}`;
  const port = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    [
      ...(args.profile ? ['--cpu-prof', '--cpu-prof-dir', join(args.profile, environment)] : []),
      ...(args.source ? ['--conditions=@flotilla/source', join(root, 'packages/cli/src/main.ts')] : [built]),
      'agent',
      '--server',
      agentServer.url,
      '--token',
      token,
      '--dir',
      join(work, instance),
      '--instance-id',
      instance,
      '--mesh-listen',
      `127.0.0.1:${port}`,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...agentServer.env } },
  );
  try {
    const started = Date.now();
    for (;;) {
      if (Date.now() - started > 60_000) throw new Error(`${instance} did not come up within 60 s`);
      if (meshOn) {
        const known = (p: Peer) => p.membership.members().some((m) => m.name === instance && m.state === 'alive');
        if (peers.filter(known).length > peers.length / 2) break;
      } else {
        const list = (await call('GET', `/api/v1/instances?environment=${environment}`)) as { instances: unknown[] };
        if (list.instances.length > 0) break;
      }
      await sleep(200);
    }
    console.log(`${instance}: up after ${Date.now() - started} ms; warming up ${warmup} s`);
    await sleep(warmup * 1000);
    const pid = agentPidUnder(child.pid as number) ?? (child.pid as number);
    const before = cpuTicks(pid);
    const threadsBefore = threadTicks(pid);
    let peak = 0;
    const until = Date.now() + seconds * 1000;
    while (Date.now() < until) {
      peak = Math.max(peak, statusKiB(pid, 'VmRSS'));
      await sleep(1000);
    }
    const figures = {
      cpu: (cpuTicks(pid) - before) / seconds,
      rssMb: peak / 1024,
      anonMb: statusKiB(pid, 'RssAnon') / 1024,
    };
    console.log(`${instance} threads: ${threadNote(threadsBefore, pid, seconds)}`);
    console.log(
      `${instance} (mesh ${meshOn ? 'on' : 'off'}): CPU ${figures.cpu.toFixed(2)} % of one core over ${seconds} s, peak RSS ${figures.rssMb.toFixed(1)} MB (${figures.anonMb.toFixed(1)} anonymous)`,
    );
    return figures;
  } finally {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  }
}

const peers: Peer[] = [];
try {
  await call('POST', '/api/v1/environments', { name: 'bench' });
  await call('POST', '/api/v1/environments', { name: 'bench-off' });
  await call('PUT', '/api/v1/mesh/environments/bench', { enabled: true, maxPeersPerRound: maxPeers });
  const tokenOn = (await call('POST', '/api/v1/tokens', { kind: 'agent', name: 'on', environment: 'bench' }))
    .token as string;
  const tokenOff = (await call('POST', '/api/v1/tokens', { kind: 'agent', name: 'off', environment: 'bench-off' }))
    .token as string;
  for (let i = 0; i < peerCount; i++) {
    peers.push(
      await startPeer(
        `peer-${i}`,
        tokenOn,
        peers.slice(0, 3).map((p) => `127.0.0.1:${p.transport.port}`),
      ),
    );
  }
  console.log(
    `${peerCount} peers up; probed per round: ${maxPeers ?? 'the default (5)'}; agent from ${args.source ? 'sources' : 'built JS'}; control plane over ${agentServer.url.split(':')[0]}; load ${loadavg()[0]?.toFixed(2)}`,
  );
  const off = await measureAgent('bench-off', tokenOff, false);
  const on = await measureAgent('bench', tokenOn, true);
  const view = (await call('GET', '/api/v1/mesh?environment=bench&window=15m')) as {
    pairs: { from: string; count: number; loss: number; p50: number | null }[];
  };
  const mine = view.pairs.filter((p) => p.from === 'agent-bench');
  const probes = mine.reduce((n, p) => n + p.count, 0);
  const lost = mine.reduce((n, p) => n + p.count * p.loss, 0);
  console.log(
    `the server holds ${mine.length} pairs from the agent (${probes} probes, ${lost} failed) after ${warmup + seconds} s`,
  );
  console.log(
    `mesh on vs off: CPU +${(on.cpu - off.cpu).toFixed(2)} % of one core (${on.cpu.toFixed(2)} vs ${off.cpu.toFixed(2)}), RSS +${(on.rssMb - off.rssMb).toFixed(1)} MB (${on.rssMb.toFixed(1)} vs ${off.rssMb.toFixed(1)}); load ${loadavg()[0]?.toFixed(2)}`,
  );
} finally {
  for (const peer of peers) peer.membership.stop();
  await Promise.all(peers.map((peer) => peer.transport.close()));
  await server.close();
  rmSync(work, { recursive: true, force: true });
}
