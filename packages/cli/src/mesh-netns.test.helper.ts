import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// A lab of `flotilla mesh` processes in Linux network namespaces: two group namespaces (a, b) joined
// through a router namespace (r), where iptables drops packets between the groups (partition, random
// loss). Nothing is added to the host's own network; every namespace, veth and process goes in destroy().

export type Group = 'a' | 'b';
export type PeerState = 'alive' | 'suspect' | 'dead' | 'left';
/** One membership change a node logged: `peer` became `state` at `at` (the node's log time, ms). */
export interface MeshEvent {
  at: number;
  peer: string;
  state: PeerState;
}

export interface LabNode {
  name: string;
  group: Group;
  ip: string;
  child?: ChildProcess;
  /** Last state of each peer, from the node's log. */
  view: Map<string, PeerState>;
  events: MeshEvent[];
  stderr: string;
  /** When the node logged that its ports are open (ms). */
  readyAt?: number;
}

export interface Lab {
  id: string;
  nodes: LabNode[];
  token: string;
  /** Starts every node, all joining through the first one. */
  start(): void;
  /** GET on a node's API port (through a proxy inside the router namespace). */
  get(node: LabNode, path: string): Promise<{ status: number; body: string }>;
  /** Drops every packet between the groups (both directions), or stops dropping. */
  partition(on: boolean): void;
  /** Drops packets between the groups at random with probability p (both directions); 0 removes it. */
  loss(p: number): void;
  /** Packets forwarded between the groups and those the loss rule dropped, since the rule was added. */
  lossCounters(): { seen: number; dropped: number };
  /** Adds `ms` of delay to packets from group a to b (netem); returns why it could not, or undefined. */
  addDelay(ms: number): string | undefined;
  /** IP bytes the nodes of each group sent (not to the proxy). Per group, not per node: nodes share
   * their namespace's interface, so the kernel picks one source address for all their connections. */
  bytesSent(): Record<Group, number>;
  kill(node: LabNode): void;
  destroy(): Promise<void>;
}

export const LAB_PREFIX = 'fltmesh';
const main = fileURLToPath(new URL('./main.ts', import.meta.url));
const MESH_PORT = 8081;
const API_PORT = 8080;
const LOG_LINE =
  /^(\S+Z) (?:INFO|WARN|DEBUG|ERROR) mesh (\S+) \(\S+\) (joined|is alive again|is suspected|is dead|left)$/;
const STATES: Record<string, PeerState> = {
  joined: 'alive',
  'is alive again': 'alive',
  'is suspected': 'suspect',
  'is dead': 'dead',
  left: 'left',
};

const run = (cmd: string, args: string[]) =>
  execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 }).toString();
const ns = (name: string, cmd: string, args: string[]) => run('ip', ['netns', 'exec', name, cmd, ...args]);

function tryRun(cmd: string, args: string[]): string | undefined {
  try {
    run(cmd, args);
    return undefined;
  } catch (error) {
    const e = error as { stderr?: Buffer; message: string };
    return (e.stderr?.toString().trim() || e.message).split('\n')[0];
  }
}

/** Why this machine cannot run the lab (not root, no `ip netns`, no iptables statistic), or undefined. */
export function labUnsupported(): string | undefined {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'network namespaces need root (uid 0)';
  const probe = `${LAB_PREFIX}-${process.pid}-t`;
  const failed = tryRun('ip', ['netns', 'add', probe]);
  if (failed) return `cannot create a network namespace: ${failed}`;
  try {
    return (
      tryRun('ip', ['netns', 'exec', probe, 'iptables', '-A', 'FORWARD', '-j', 'ACCEPT']) ??
      tryRun('ip', ['netns', 'exec', probe, 'iptables', '-A', 'FORWARD', ...statistic(0.1), '-j', 'DROP'])
    );
  } finally {
    tryRun('ip', ['netns', 'del', probe]);
  }
}

/** Why `tc netem` delay cannot be added here (this kernel may lack the qdisc), or undefined. */
export function netemUnsupported(): string | undefined {
  const probe = `${LAB_PREFIX}-${process.pid}-n`;
  const failed = tryRun('ip', ['netns', 'add', probe]);
  if (failed) return `cannot create a network namespace: ${failed}`;
  try {
    const why =
      tryRun('ip', ['-n', probe, 'link', 'add', 'x', 'type', 'veth', 'peer', 'name', 'y']) ??
      tryRun('tc', ['-n', probe, 'qdisc', 'add', 'dev', 'x', 'root', 'netem', 'delay', '5ms']);
    return why && `tc netem: ${why}`;
  } finally {
    tryRun('ip', ['netns', 'del', probe]);
  }
}

const statistic = (p: number) => ['-m', 'statistic', '--mode', 'random', '--probability', String(p)];

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

function removeNamespace(name: string): void {
  // Processes still inside would keep it (and its veths) alive after the name is gone.
  for (const pid of (tryOut('ip', ['netns', 'pids', name]) ?? '').split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {}
  }
  tryRun('ip', ['netns', 'del', name]);
}

function tryOut(cmd: string, args: string[]): string | undefined {
  try {
    return run(cmd, args);
  } catch {
    return undefined;
  }
}

/** Removes namespaces left by earlier runs that were killed: only ours, only when their process is gone. */
export function removeStaleLabs(): string[] {
  const removed: string[] = [];
  for (const line of (tryOut('ip', ['netns', 'list']) ?? '').split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = new RegExp(`^${LAB_PREFIX}-(\\d+)-[a-z]$`).exec(name);
    if (!m || alive(Number(m[1]))) continue;
    removeNamespace(name);
    removed.push(name);
  }
  return removed;
}

/** Second octet of 10.x.1.0/24 and 10.x.2.0/24 that the host does not use (the lab's own routes stay apart anyway). */
function pickSubnet(): number {
  const host = `${tryOut('ip', ['-4', '-o', 'addr', 'show']) ?? ''}\n${tryOut('ip', ['-4', 'route', 'show', 'table', 'all']) ?? ''}`;
  for (let x = 213; x < 250; x++) if (!host.includes(`10.${x}.`)) return x;
  throw new Error('no free 10.x.0.0/16 range for the lab');
}

function parseLog(node: LabNode, chunk: string, carry: { rest: string }): void {
  const text = carry.rest + chunk;
  const lines = text.split('\n');
  carry.rest = lines.pop() ?? '';
  for (const line of lines) {
    if (node.readyAt === undefined && line.includes(` mesh node ${node.name}: mesh port`)) {
      node.readyAt = Date.parse(line.split(' ')[0] ?? '');
    }
    const m = LOG_LINE.exec(line);
    if (!m?.[1] || !m[2] || !m[3]) continue;
    const state = STATES[m[3]] as PeerState;
    node.events.push({ at: Date.parse(m[1]), peer: m[2], state });
    node.view.set(m[2], state);
  }
}

export function createLab(options: { perGroup: number; token?: string }): Lab {
  const id = String(process.pid);
  const names = { r: `${LAB_PREFIX}-${id}-r`, a: `${LAB_PREFIX}-${id}-a`, b: `${LAB_PREFIX}-${id}-b` };
  const dir = mkdtempSync(join(tmpdir(), `${LAB_PREFIX}-`));
  const socket = join(dir, 'proxy.sock');
  const token = options.token ?? 'netns-mesh-token';
  const x = pickSubnet();
  const subnet = (g: Group) => `10.${x}.${g === 'a' ? 1 : 2}`;
  const nodes: LabNode[] = [];
  for (const group of ['a', 'b'] as const) {
    for (let i = 0; i < options.perGroup; i++) {
      const name = `${group}${String(i).padStart(2, '0')}`;
      nodes.push({ name, group, ip: `${subnet(group)}.${11 + i}`, view: new Map(), events: [], stderr: '' });
    }
  }
  const children = new Set<ChildProcess>();
  let destroyed = false;

  const destroySync = () => {
    if (destroyed) return;
    destroyed = true;
    for (const child of children) child.kill('SIGKILL');
    for (const name of Object.values(names)) removeNamespace(name);
    rmSync(dir, { recursive: true, force: true });
  };
  // Best effort when the run is interrupted: afterAll may never come.
  const onSignal = (signal: NodeJS.Signals) => {
    destroySync();
    process.kill(process.pid, signal);
  };
  process.once('exit', destroySync);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    for (const name of Object.values(names)) run('ip', ['netns', 'add', name]);
    for (const g of ['a', 'b'] as const) {
      const gw = `${subnet(g)}.1`;
      run('ip', ['-n', names[g], 'link', 'add', `v${g}`, 'type', 'veth', 'peer', 'name', `r${g}`, 'netns', names.r]);
      run('ip', ['-n', names.r, 'addr', 'add', `${gw}/24`, 'dev', `r${g}`]);
      run('ip', ['-n', names.r, 'link', 'set', `r${g}`, 'up']);
      run('ip', ['-n', names[g], 'link', 'set', 'lo', 'up']);
      run('ip', ['-n', names[g], 'link', 'set', `v${g}`, 'up']);
      for (const node of nodes.filter((n) => n.group === g)) {
        run('ip', ['-n', names[g], 'addr', 'add', `${node.ip}/24`, 'dev', `v${g}`]);
      }
      // Counts what the group's nodes send (the proxy at the gateway address is left out).
      ns(names[g], 'iptables', ['-A', 'OUTPUT', '!', '-d', gw]);
      run('ip', ['-n', names[g], 'route', 'add', 'default', 'via', gw]);
    }
    ns(names.r, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
  } catch (error) {
    destroySync();
    throw error;
  }

  const proxy = spawn('ip', ['netns', 'exec', names.r, process.execPath, '-e', PROXY, socket], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(proxy);
  const proxyReady = new Promise<void>((resolve, reject) => {
    proxy.stdout?.once('data', () => resolve());
    proxy.once('exit', (code) => reject(new Error(`the lab's proxy exited (${code})`)));
  });
  proxyReady.catch(() => {});

  const between = (g: Group, h: Group) => ['-s', `${subnet(g)}.0/24`, '-d', `${subnet(h)}.0/24`];
  let lossRules: string[][] = [];
  const forward = (op: '-I' | '-D', rule: string[]) => ns(names.r, 'iptables', [op, 'FORWARD', ...rule]);

  return {
    id,
    nodes,
    token,
    start() {
      const seed = `${nodes[0]?.ip}:${MESH_PORT}`;
      const env: NodeJS.ProcessEnv = {};
      for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('MESH_')) env[k] = v;
      for (const [i, node] of nodes.entries()) {
        const args = ['--name', node.name, '--listen-address', node.ip, '--listen-port', String(MESH_PORT)];
        args.push('--api-port', String(API_PORT), '--token', token, ...(i === 0 ? [] : ['--target', seed]));
        const child = spawn(
          'ip',
          [
            'netns',
            'exec',
            names[node.group],
            process.execPath,
            '--conditions=@flotilla/source',
            main,
            'mesh',
            ...args,
          ],
          { env, stdio: ['ignore', 'ignore', 'pipe'] },
        );
        const carry = { rest: '' };
        child.stderr?.on('data', (c: Buffer) => {
          const text = c.toString();
          if (node.stderr.length < 1_000_000) node.stderr += text;
          parseLog(node, text, carry);
        });
        child.once('exit', () => children.delete(child));
        children.add(child);
        node.child = child;
      }
    },
    async get(node, path) {
      await proxyReady;
      return new Promise((resolve, reject) => {
        const req = http.get(
          { socketPath: socket, path: `/${node.ip}:${API_PORT}${path}`, headers: { authorization: `Bearer ${token}` } },
          (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => {
              body += c;
            });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
            res.on('error', reject);
          },
        );
        req.setTimeout(10_000, () => req.destroy(new Error(`GET ${path} on ${node.name}: timeout`)));
        req.on('error', reject);
      });
    },
    partition(on) {
      for (const [g, h] of [
        ['a', 'b'],
        ['b', 'a'],
      ] as const)
        forward(on ? '-I' : '-D', [...between(g, h), '-j', 'DROP']);
    },
    loss(p) {
      for (const rule of lossRules) forward('-D', rule);
      lossRules = [];
      if (p <= 0) return;
      for (const [g, h] of [
        ['a', 'b'],
        ['b', 'a'],
      ] as const) {
        // A rule without a target only counts: every packet between the groups, before the drop.
        const drop = [...between(g, h), ...statistic(p), '-j', 'DROP'];
        forward('-I', drop);
        forward('-I', between(g, h));
        lossRules.push(drop, between(g, h));
      }
    },
    lossCounters() {
      let seen = 0;
      let dropped = 0;
      for (const line of ns(names.r, 'iptables', ['-nvx', '-L', 'FORWARD']).split('\n')) {
        const cols = line.trim().split(/\s+/);
        if (!/^\d+$/.test(cols[0] ?? '') || !line.includes(`10.${x}.`)) continue;
        if (line.includes('statistic')) dropped += Number(cols[0]);
        else if (cols[2] !== 'DROP') seen += Number(cols[0]);
      }
      return { seen, dropped };
    },
    addDelay(ms) {
      return tryRun('tc', ['-n', names.r, 'qdisc', 'add', 'dev', 'rb', 'root', 'netem', 'delay', `${ms}ms`]);
    },
    bytesSent() {
      const out = { a: 0, b: 0 };
      for (const g of ['a', 'b'] as const) {
        for (const line of ns(names[g], 'iptables', ['-nvx', '-L', 'OUTPUT']).split('\n')) {
          const cols = line.trim().split(/\s+/);
          if (/^\d+$/.test(cols[1] ?? '') && line.includes(`!${subnet(g)}.1`)) out[g] += Number(cols[1]);
        }
      }
      return out;
    },
    kill(node) {
      node.child?.kill('SIGKILL');
    },
    async destroy() {
      process.off('exit', destroySync);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      // SIGTERM first so the nodes can close their ports; whatever is left goes with SIGKILL.
      const exits = [...children].map(
        (child) =>
          new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', () => resolve()))),
      );
      for (const child of children) child.kill('SIGTERM');
      await Promise.race([Promise.all(exits), new Promise((r) => setTimeout(r, 5000))]);
      destroySync();
    },
  };
}

/** The proxy inside the router namespace: GET /<ip>:<port>/<path> on a unix socket, forwarded over HTTP. */
const PROXY = `
const http = require('node:http');
http.createServer((req, res) => {
  const m = /^\\/([0-9.]+):(\\d+)(\\/.*)$/.exec(req.url || '');
  if (!m) { res.writeHead(400); return res.end('bad path'); }
  const up = http.get({ host: m[1], port: Number(m[2]), path: m[3], timeout: 8000,
    headers: { authorization: req.headers.authorization || '' } }, (r) => {
    res.writeHead(r.statusCode || 502, { 'content-type': r.headers['content-type'] || 'text/plain' });
    r.pipe(res);
  });
  up.on('timeout', () => up.destroy(new Error('timeout')));
  up.on('error', (e) => { if (!res.headersSent) res.writeHead(502); res.end(e.message); });
}).listen(process.argv[1], () => process.stdout.write('ready\\n'));
`;
