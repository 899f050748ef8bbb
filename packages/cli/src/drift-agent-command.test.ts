// `flotilla drift-agent` as a process: a kubeconfig pointing at the local list/watch server, a local
// server recording reports; a change is reported, and SIGTERM sends the pending report then exits 0.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { DriftReport } from '@flotilla/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  type FakeApiServer,
  pod,
  startFakeApiServer,
  TOKEN,
} from '../../agent/src/kubernetes/fake-api-server.test.helper.ts';
import { parseHeartbeat, parseTags } from './commands/drift-agent.ts';
import { buildProgram } from './program.ts';
import { runCli } from './run-cli.test.helper.ts';

const main = fileURLToPath(new URL('./main.ts', import.meta.url));
let api: FakeApiServer;
let dir: string;
let reports: { authorization: string | undefined; body: DriftReport }[];
let server: ReturnType<typeof createServer>;
let serverUrl: string;
let child: ChildProcess | undefined;

beforeEach(async () => {
  api = await startFakeApiServer();
  dir = mkdtempSync(join(tmpdir(), 'flotilla-drift-agent-'));
  reports = [];
  server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.url === '/api/v1/drift/reports') {
      reports.push({ authorization: req.headers.authorization, body: JSON.parse(Buffer.concat(chunks).toString()) });
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"stored":1,"removed":0}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  serverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterEach(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  child = undefined;
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await api.close();
  rmSync(dir, { recursive: true, force: true });
});

function kubeconfigFile(): string {
  const file = join(dir, 'kubeconfig');
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'fake', cluster: { server: api.url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'agent', user: { token: TOKEN } }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'agent' } }],
      'current-context': 'fake',
    }),
  );
  return file;
}

describe('flotilla drift-agent', () => {
  it('reports the cluster, a change, and on SIGTERM the pending report, then exits 0', async () => {
    api.put('Pods', pod('web', 'p', { app: 'web' }, ['nginx:1.25.3']));
    api.putTracker('opvic.skillz.com', {
      metadata: { name: 'web', namespace: 'opvic' },
      spec: { name: 'web', resources: { selector: { matchLabels: { app: 'web' } } } },
    });
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, 'agent-token\n');
    const env = { ...process.env, FLOTILLA_AGENT_TOKEN: undefined };
    child = spawn(
      process.execPath,
      [
        '--conditions=@flotilla/source',
        main,
        'drift-agent',
        '--server',
        serverUrl,
        '--token-file',
        tokenFile,
        '--kubeconfig',
        kubeconfigFile(),
        '--identifier',
        'prod-eu-1',
        '--tags',
        'env:prod,team:web',
        '--tags',
        'region:eu',
      ],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    await vi.waitFor(() => expect(reports).toHaveLength(1), { timeout: 20_000, interval: 50 });
    expect(reports[0]).toEqual({
      authorization: 'Bearer agent-token',
      body: {
        agentId: 'prod-eu-1',
        tags: { env: 'prod', team: 'web', region: 'eu' },
        complete: true,
        subjects: [
          {
            subject: 'web',
            namespace: 'opvic',
            versions: [
              {
                runningVersion: '1.25.3',
                resourceCount: 1,
                resourceKind: 'Pods',
                extractedFrom: 'nginx:1.25.3',
                image: 'docker.io/library/nginx',
              },
            ],
            upstream: null,
            error: null,
          },
        ],
      },
    });
    // A change, then SIGTERM before the reporter's 1 s debounce: the report is sent on the way out.
    api.put('Pods', pod('web', 'p', { app: 'web' }, ['nginx:1.27.0']));
    await sleep(600);
    const exited = new Promise<number | null>((resolve) => child?.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(reports.at(-1)?.body.subjects?.[0]?.versions[0]?.runningVersion).toBe('1.27.0');
    expect(stderr).toMatch(/SIGTERM: stopping watches, sending the last report/);
    await vi.waitFor(() => expect(api.openWatches).toBe(0), { timeout: 3000 });
  }, 40_000);

  it('refuses missing or bad options with a clear message and exit code 2', async () => {
    const env = {
      FLOTILLA_AGENT_TOKEN: undefined,
      FLOTILLA_AGENT_SERVER: undefined,
      KUBERNETES_SERVICE_HOST: undefined,
    };
    const noServer = await runCli(['drift-agent', '--identifier', 'x'], { env });
    expect(noServer).toMatchObject({
      status: 2,
      stderr: 'flotilla: server: missing (--server or FLOTILLA_AGENT_SERVER)\n',
    });
    const noToken = await runCli(['drift-agent', '--server', serverUrl, '--identifier', 'x'], { env });
    expect(noToken.stderr).toMatch(/token: missing \(--token-file/);
    const badId = await runCli(['drift-agent', '--server', serverUrl, '--token', 't', '--identifier', 'a b'], { env });
    expect(badId.stderr).toMatch(/--identifier: "a b" must be letters, digits/);
    const notInCluster = await runCli(['drift-agent', '--server', serverUrl, '--token', 't', '--identifier', 'x'], {
      env,
    });
    expect(notInCluster).toMatchObject({ status: 2 });
    expect(notInCluster.stderr).toMatch(/not running in a cluster .*pass --kubeconfig <file>/);
    const base = ['drift-agent', '--server', serverUrl, '--token', 't', '--identifier', 'x'];
    const contextAlone = await runCli([...base, '--context', 'prod'], { env });
    expect(contextAlone).toMatchObject({ status: 2, stderr: 'flotilla: --context needs --kubeconfig\n' });
    const noContext = await runCli([...base, '--kubeconfig', kubeconfigFile(), '--context', 'prod'], { env });
    expect(noContext).toMatchObject({ status: 2 });
    expect(noContext.stderr).toMatch(/kubeconfig: .* has no context named "prod"/);
  }, 60_000);

  it('documents every option and its environment variable in docs/drift.md', () => {
    const doc = readFileSync(new URL('../../../docs/drift.md', import.meta.url), 'utf8');
    const command = buildProgram().commands.find((c) => c.name() === 'drift-agent');
    const options = command?.options ?? [];
    expect(options.length).toBeGreaterThan(5);
    for (const option of options) {
      expect(doc).toContain(`\`${option.long}`);
      if (option.envVar) expect(doc).toContain(`\`${option.envVar}\``);
    }
  });

  it('parses tags and heartbeat', () => {
    expect(parseTags(['env:prod,team:web', 'region=eu', ' a : b '])).toEqual({
      env: 'prod',
      team: 'web',
      region: 'eu',
      a: 'b',
    });
    expect(() => parseTags(['novalue'])).toThrow(/"novalue" is not key:value/);
    expect(parseHeartbeat('5')).toBe(300_000);
    expect(parseHeartbeat('30s')).toBe(30_000);
    expect(parseHeartbeat('1h')).toBe(3_600_000);
    expect(() => parseHeartbeat('0')).toThrow(/between 1s and 24h/);
    expect(() => parseHeartbeat('soon')).toThrow(/not a duration/);
  });
});
