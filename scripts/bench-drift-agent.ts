// What the Kubernetes drift agent costs and how fast it reports: `flotilla drift-agent` as a child
// process (so RSS and CPU are its own) watching a local list/watch server loaded with many pods, and
// a local server receiving its reports.
//
//   npm run bench:drift-agent -- [--pods 10000] [--idle 30] [--changes 5] [--built]
//                                ["--node-args=--max-semi-space-size=1"]
//
// Runs the CLI from its sources (Node strips the types) unless --built (then build first:
// `tsc -b packages/cli`). Default Node options: `--lite-mode --max-semi-space-size=1` for built JS, as
// the image runs it; from the sources without lite mode, which turns off the WebAssembly that type
// stripping needs. Prints: time to the first complete report, change → report latency,
// reports for a 100-pod rollout, idle CPU % over --idle seconds and RSS.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { DriftReport } from '@flotilla/protocol';
import { pod, startFakeApiServer, TOKEN } from '../packages/agent/src/kubernetes/fake-api-server.test.helper.ts';

const { values: args } = parseArgs({
  options: {
    pods: { type: 'string', default: '10000' },
    idle: { type: 'string', default: '30' },
    changes: { type: 'string', default: '5' },
    built: { type: 'boolean', default: false },
    'node-args': { type: 'string' },
  },
});
const podCount = Number(args.pods);
const idleSec = Number(args.idle);
const changeCount = Number(args.changes);
const root = new URL('..', import.meta.url).pathname;
const entry = args.built
  ? [join(root, 'packages/cli/dist/main.js')]
  : ['--conditions=@flotilla/source', join(root, 'packages/cli/src/main.ts')];

const statusKiB = (pid: number, field: string) =>
  Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
/** User plus system CPU time of a process, in clock ticks (100 a second on Linux). */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const work = mkdtempSync(join(tmpdir(), 'flotilla-bench-drift-agent-'));
const api = await startFakeApiServer();
const reports: { at: number; body: DriftReport }[] = [];
const receiver = createServer(async (req, res) => {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  reports.push({ at: Date.now(), body: JSON.parse(Buffer.concat(chunks).toString()) as DriftReport });
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end('{"stored":1,"removed":0}');
});
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;

/** Waits for a report whose subject `web` runs `version`; returns when it arrived. */
async function reportWith(version: string, timeoutMs = 30_000): Promise<number> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const found = reports.find((r) =>
      r.body.subjects?.some((s) => s.subject === 'web' && s.versions.some((v) => v.runningVersion === version)),
    );
    if (found) return found.at;
    if (Date.now() > until) throw new Error(`no report with ${version} within ${timeoutMs} ms`);
    await sleep(5);
  }
}

let agent: ChildProcess | undefined;
try {
  for (let i = 0; i < podCount; i++) {
    api.put(
      'Pods',
      pod(
        `ns-${i % 50}`,
        `web-${i}`,
        { app: 'web', 'app.kubernetes.io/version': 'v1.25.3' },
        ['nginx:1.25.3'],
        ['busybox:1.36'],
      ),
    );
  }
  api.putTracker('opvic.skillz.com', {
    metadata: { name: 'web', namespace: 'opvic' },
    spec: { name: 'web', resources: { selector: { matchLabels: { app: 'web' } } } },
  });
  api.putTracker('vt.skillz.com', {
    metadata: { name: 'web-label', namespace: 'opvic' },
    spec: {
      name: 'web-label',
      resources: { selector: { matchLabels: { app: 'web' } } },
      localVersion: {
        strategy: 'FieldSelection',
        fieldSelector: '.metadata.labels.app\\.kubernetes\\.io/version',
        extraction: { regex: { pattern: '^v(.*)$' } },
      },
    },
  });
  const kubeconfig = join(work, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'fake', cluster: { server: api.url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'agent', user: { token: TOKEN } }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'agent' } }],
      'current-context': 'fake',
    }),
  );
  const started = Date.now();
  const defaultArgs = args.built ? '--lite-mode --max-semi-space-size=1' : '--max-semi-space-size=1';
  const nodeArgs = (args['node-args'] ?? defaultArgs).split(' ').filter(Boolean);
  agent = spawn(
    process.execPath,
    [
      ...nodeArgs,
      ...entry,
      'drift-agent',
      '--server',
      receiverUrl,
      '--token',
      'bench-token',
      '--kubeconfig',
      kubeconfig,
      '--identifier',
      'bench',
      '--log-level',
      'warn',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const pid = agent.pid as number;
  const firstAt = await reportWith('1.25.3', 120_000);
  const first = reports.find((r) => r.at === firstAt)?.body.subjects?.find((s) => s.subject === 'web');
  console.log(
    `${podCount} pods (${args.built ? 'built JS' : 'sources'}): first complete report after ${firstAt - started} ms, ` +
      `web: ${first?.versions.map((v) => `${v.runningVersion}×${v.resourceCount}`).join(', ')}`,
  );
  await sleep(3000);

  const latencies: number[] = [];
  for (let i = 0; i < changeCount; i++) {
    const version = `1.26.${i}`;
    const t0 = Date.now();
    api.put('Pods', pod('ns-0', 'web-0', { app: 'web' }, [`nginx:${version}`]));
    latencies.push((await reportWith(version)) - t0);
    await sleep(1500);
  }
  latencies.sort((a, b) => a - b);
  console.log(
    `one pod changed → report received: ${latencies.map((ms) => `${ms} ms`).join(', ')} (median ${latencies[Math.floor(latencies.length / 2)]} ms, max ${latencies.at(-1)} ms)`,
  );

  const before = reports.length;
  const t0 = Date.now();
  for (let i = 0; i < 100; i++) api.put('Pods', pod(`ns-${i % 50}`, `web-${i}`, { app: 'web' }, ['nginx:1.27.0']));
  const rolloutAt = await reportWith('1.27.0');
  await sleep(3000);
  const rolloutReports = reports.slice(before);
  const last = rolloutReports.at(-1)?.body.subjects?.find((s) => s.subject === 'web');
  console.log(
    `rollout of 100 pods: first report after ${rolloutAt - t0} ms, ${rolloutReports.length} report(s) in all; ` +
      `last: ${last?.versions.map((v) => `${v.runningVersion}×${v.resourceCount}`).join(', ')}`,
  );

  const ticks = cpuTicks(pid);
  const reportsBefore = reports.length;
  await sleep(idleSec * 1000);
  const cpu = (cpuTicks(pid) - ticks) / idleSec;
  console.log(
    `idle ${idleSec} s: CPU ${cpu.toFixed(2)} % of one core, RSS ${(statusKiB(pid, 'VmRSS') / 1024).toFixed(1)} MB ` +
      `(${(statusKiB(pid, 'RssAnon') / 1024).toFixed(1)} anonymous, peak ${(statusKiB(pid, 'VmHWM') / 1024).toFixed(1)}), ` +
      `${reports.length - reportsBefore} report(s) while idle`,
  );
} finally {
  if (agent && agent.exitCode === null) {
    agent.kill('SIGTERM');
    await new Promise((r) => agent?.once('exit', r));
  }
  receiver.closeAllConnections();
  receiver.close();
  await api.close();
  rmSync(work, { recursive: true, force: true });
}
