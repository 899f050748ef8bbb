// A real server (in this process) and a real `flotilla agent` (a child process) on loopback, with
// small real services: a script that listens on a port and answers its version.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { InstallManifest, Instance } from '@flotilla/protocol';
import { markedProcesses } from '../../agent/src/update/orphans.ts';
import { makeArtifact } from '../../server/src/catalog/archive.test.helper.ts';
import { adminToken, type TestServer } from '../../server/test/support/server.ts';
import { makeTempDir } from '../../server/test/support/temp-dir.ts';

export { freePort } from '../../server/test/support/ports.ts';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));

/** The service: answers GET / with its version; modes make it crash, fail its probe, leak memory, or log. */
export const serviceScript = `
import { createServer } from 'node:http';
import { writeFileSync } from 'node:fs';
const [port, version, mode] = process.argv.slice(2);
const log = (level, message) => {
  const d = new Date(); const p = (n, w = 2) => String(n).padStart(w, '0');
  const ts = d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + ' ' + p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds()) + '.' + p(d.getMilliseconds(), 3);
  console.log(ts + ' ' + level + ' http ' + message);
};
if (mode === 'crash') setTimeout(() => { console.error('fatal: no database for ' + version); process.exit(3); }, 50);
if (mode === 'flaky') setTimeout(() => { writeFileSync('core.' + process.pid, 'not really a core'); log('ERROR', 'giving up'); process.exit(4); }, 2500);
const hog = [];
if (mode === 'hog') setTimeout(() => { for (let i = 0; i < 40; i++) hog.push(Buffer.alloc(8 * 1024 * 1024, 1)); }, 1500);
createServer((req, res) => {
  if (req.url === '/log') log('WARN', 'asked to log at ' + version);
  // Lines without a timestamp of their own, each carrying the time it was written.
  if (req.url === '/stamp') for (let i = 0; i < 5; i++) setTimeout(() => console.log('stamped ' + version + ' at ' + Date.now()), i * 20);
  res.statusCode = mode === 'unhealthy' && req.url === '/healthz' ? 500 : 200;
  res.end(version);
}).listen(Number(port), '127.0.0.1', () => log('INFO', 'listening on ' + port + ' as ' + version));
`;

export type Mode = 'good' | 'crash' | 'unhealthy' | 'flaky' | 'hog';

export function manifestFor(port: number, mode: Mode): InstallManifest {
  return {
    install: [
      {
        command: process.execPath,
        args: ['-e', "require('fs').writeFileSync('installed.txt', '%%version%% %%role%%')"],
      },
    ],
    // No `logs` section: lines are uploaded by default.
    run: { command: process.execPath, args: ['server.mjs', String(port), '%%version%%', mode] },
    faultFilesMatch: ['core.*'],
    restart: mode === 'hog' ? { maxMemoryMB: 150, checkTimeoutMs: 200 } : {},
    health: {
      http: { url: `http://127.0.0.1:${port}/healthz` },
      startupWindowSec: 1,
      timeoutSec: mode === 'unhealthy' ? 2 : 15,
    },
  };
}

export function api(server: TestServer, token = adminToken) {
  return async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined && !(body instanceof Buffer) ? { 'content-type': 'application/json' } : {}),
        ...(body instanceof Buffer ? { 'content-type': 'application/gzip' } : {}),
      },
      body: body === undefined ? undefined : body instanceof Buffer ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let json: unknown = null;
    try {
      json = JSON.parse(text);
    } catch {}
    return { status: res.status, json: json as Record<string, unknown> & { error?: { message: string } }, text };
  };
}

export async function publish(server: TestServer, service: string, version: string, port: number, mode: Mode) {
  const { readFileSync } = await import('node:fs');
  const file = await makeArtifact(manifestFor(port, mode), { 'server.mjs': serviceScript });
  const res = await api(server)('PUT', `/api/v1/services/${service}/versions/${version}`, readFileSync(file));
  if (res.status !== 201) throw new Error(`publish ${service} ${version}: ${res.status} ${res.text}`);
  return res.json as { digest: string };
}

export async function setDesired(server: TestServer, env: string, set: Record<string, string>, remove: string[] = []) {
  const res = await api(server)('PATCH', `/api/v1/environments/${env}/desired`, { set, remove });
  if (res.status !== 200) throw new Error(`desired: ${res.status} ${res.text}`);
}

export interface AgentProcess {
  proc: ChildProcess;
  dir: string;
  output: () => string;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** SIGKILL to the launcher, the agent and any trial version at once, as a power loss would. */
  killAll(): Promise<void>;
}

export function spawnAgent(
  server: TestServer,
  token: string,
  dir = makeTempDir('flotilla-agent-'),
  extra: string[] = [],
  env: Record<string, string> = {},
  nodeArgs: string[] = [],
): AgentProcess {
  const proc = spawn(
    process.execPath,
    [
      '--conditions=@flotilla/source',
      ...nodeArgs,
      main,
      'agent',
      '--server',
      server.url,
      '--token',
      token,
      '--dir',
      dir,
      '--wait',
      '20',
      '--heartbeat',
      '1',
      '--log-level',
      'debug',
      ...extra,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } },
  );
  let out = '';
  proc.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  proc.stderr?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return {
    proc,
    dir,
    output: () => out,
    exited,
    async killAll() {
      const workers = markedProcesses(join(dir, 'services', 'flotilla-agent'));
      proc.kill('SIGKILL');
      for (const pid of workers) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {}
      }
      await exited;
    },
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Polls until `check` returns a value (not undefined), or fails after `timeoutMs` with `what`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 45_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
}

export async function instanceService(server: TestServer, instanceId: string, service: string) {
  const res = await api(server)('GET', `/api/v1/instances?environment=test`);
  const instance = (res.json.instances as Instance[] | undefined)?.find((i) => i.instanceId === instanceId);
  return instance?.services.find((s) => s.service === service);
}

/** The body of GET / on the port, or null when nothing answers. */
export async function served(port: number, path = '/'): Promise<string | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(1000) });
    return await res.text();
  } catch {
    return null;
  }
}

/** Polls the port every `everyMs` until stopped; returns the longest gap between two answers. */
export function watchAvailability(port: number, everyMs = 10) {
  let running = true;
  let lastOk = Date.now();
  let longestGap = 0;
  const seen = new Set<string>();
  const loop = (async () => {
    while (running) {
      const body = await served(port);
      const now = Date.now();
      if (body !== null) {
        longestGap = Math.max(longestGap, now - lastOk);
        lastOk = now;
        seen.add(body);
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    seen,
    async stop() {
      running = false;
      await loop;
      return longestGap;
    },
  };
}

/**
 * A version of the agent itself: `good` runs this repository's agent; `silent` starts a process that
 * never reports healthy, so the agent must roll it back.
 */
export async function publishAgent(server: TestServer, version: string, kind: 'good' | 'silent') {
  const { readFileSync } = await import('node:fs');
  const run =
    kind === 'good'
      ? { command: process.execPath, args: ['--conditions=@flotilla/source', main, 'agent'] }
      : { command: process.execPath, args: ['-e', 'setInterval(() => {}, 1000)'] };
  const manifest: InstallManifest = {
    run,
    health: { statusFile: { path: 'status.json' }, startupWindowSec: 1, timeoutSec: kind === 'good' ? 60 : 3 },
  };
  const file = await makeArtifact(manifest, { 'README.txt': `agent ${version}` });
  const res = await api(server)('PUT', `/api/v1/services/flotilla-agent/versions/${version}`, readFileSync(file));
  if (res.status !== 201) throw new Error(`publish agent ${version}: ${res.status} ${res.text}`);
}
