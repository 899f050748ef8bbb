// Measures, with a real server and a real `flotilla agent` on loopback, how long a desired-version change
// takes to be served on the host, and how long the service is unavailable during each update.
//
//   npm run bench:agent-update -- [--updates 10] [--wait 30]
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { c as tar } from 'tar';
import { startAdminServer } from './admin-server.ts';

const { values: args } = parseArgs({
  options: { updates: { type: 'string', default: '10' }, help: { type: 'boolean', default: false } },
});
if (args.help) {
  console.log('npm run bench:agent-update -- [--updates N]   (default 10 updates of a small HTTP service)');
  process.exit(0);
}
const updates = Number(args.updates);
const work = mkdtempSync(join(tmpdir(), 'flotilla-bench-agent-'));

const serviceScript = `import { createServer } from 'node:http';
const [port, version] = process.argv.slice(2);
createServer((req, res) => res.end(version)).listen(Number(port), '127.0.0.1');
`;

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const addr = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  if (!addr || typeof addr === 'string') throw new Error('no address');
  return addr.port;
}

const { server, call } = await startAdminServer(work);

const port = await freePort();
async function publish(version: string): Promise<void> {
  const src = join(work, `src-${version}`);
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, 'server.mjs'), serviceScript);
  writeFileSync(
    join(src, 'flotilla.json'),
    JSON.stringify({
      run: { command: process.execPath, args: ['server.mjs', String(port), '%%version%%'] },
      health: { http: { url: `http://127.0.0.1:${port}/` }, startupWindowSec: 1, timeoutSec: 15 },
    }),
  );
  const file = join(work, `web-${version}.tar.gz`);
  await tar({ gzip: true, file, cwd: src, portable: true }, ['server.mjs', 'flotilla.json']);
  await call('PUT', `/api/v1/services/web/versions/${version}`, readFileSync(file), 'application/gzip');
}

await call('POST', '/api/v1/environments', { name: 'bench' });
await call('POST', '/api/v1/services', { name: 'web' });
const agentToken = (await call('POST', '/api/v1/tokens', { kind: 'agent', name: 'bench-host', environment: 'bench' }))
  .token as string;

const cli = new URL('../packages/cli/src/main.ts', import.meta.url).pathname;
const agent: ChildProcess = spawn(
  process.execPath,
  [
    '--conditions=@flotilla/source',
    cli,
    'agent',
    '--server',
    server.url,
    '--token',
    agentToken,
    '--dir',
    join(work, 'agent'),
    '--wait',
    '60',
  ],
  { stdio: ['ignore', 'ignore', 'inherit'] },
);

async function body(): Promise<string | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1000) });
    return await res.text();
  } catch {
    return null;
  }
}

/** Sets the desired version and polls the service every 5 ms until it answers with it. */
async function measure(version: string): Promise<{ servingMs: number; gapMs: number }> {
  const start = Date.now();
  await call('PATCH', '/api/v1/environments/bench/desired', { set: { web: version } });
  let lastOk = Date.now();
  let gap = 0;
  while (Date.now() - start < 120_000) {
    const answer = await body();
    const now = Date.now();
    if (answer !== null) {
      gap = Math.max(gap, now - lastOk);
      lastOk = now;
      if (answer === version) return { servingMs: now - start, gapMs: gap };
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`${version} was not served within 120 s`);
}

/** Waits until the agent reports `version` installed and no update under way (its health gate is over). */
async function settled(version: string): Promise<void> {
  const end = Date.now() + 120_000;
  while (Date.now() < end) {
    const list = (await call('GET', '/api/v1/instances?environment=bench')) as {
      instances: { services: { service: string; version: string | null; targetVersion: string | null }[] }[];
    };
    const web = list.instances[0]?.services.find((s) => s.service === 'web');
    if (web?.version === version && !web.targetVersion) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the agent did not report ${version}`);
}

const pct = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
};

try {
  await publish('1.0.0');
  const first = await measure('1.0.0');
  console.log(`first install: serving after ${first.servingMs} ms`);
  await settled('1.0.0');
  const serving: number[] = [];
  const gaps: number[] = [];
  for (let i = 1; i <= updates; i++) {
    const version = `1.0.${i}`;
    await publish(version);
    const r = await measure(version);
    await settled(version);
    serving.push(r.servingMs);
    gaps.push(r.gapMs);
    console.log(`update ${i}: ${version} serving after ${r.servingMs} ms; unavailable for ${r.gapMs} ms`);
  }
  console.log(
    `desired change → new version serving (${updates} updates): p50 ${pct(serving, 50)} ms, max ${Math.max(...serving)} ms`,
  );
  console.log(`unavailability window: p50 ${pct(gaps, 50)} ms, max ${Math.max(...gaps)} ms`);
} finally {
  agent.kill('SIGTERM');
  await new Promise((r) => agent.once('exit', r));
  await server.close();
  rmSync(work, { recursive: true, force: true });
}
