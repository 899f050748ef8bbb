// `flotilla mesh status` and `flotilla mesh pairs` against a real server with a seeded mesh.
import { generateKeyPairSync } from 'node:crypto';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { agentCredentialFor } from '../../server/test/support/agent-credential.ts';
import { callApi } from '../../server/test/support/api.ts';
import { adminToken, startTestServer, type TestServer } from '../../server/test/support/server.ts';
import { registerMeshCommand } from './commands/mesh.ts';
import { formatRtt } from './commands/mesh-fleet.ts';
import { runCli } from './run-cli.test.helper.ts';

describe('mesh output helpers', () => {
  it('prints round trips in the unit people read', () => {
    expect(formatRtt(0.00042)).toBe('0.42 ms');
    expect(formatRtt(0.0123)).toBe('12.3 ms');
    expect(formatRtt(1.2)).toBe('1.20 s');
    expect(formatRtt(null)).toBe('');
  });
});

describe('flotilla mesh status / pairs', () => {
  let server: TestServer;
  const minute = Math.floor(Date.now() / 60_000) * 60_000;

  // In process, under the real `flotilla mesh` (whose own `--token` must not swallow the subcommand's).
  const run = async (args: string[]) => {
    const program = new Command('flotilla').exitOverride();
    registerMeshCommand(program).exitOverride();
    let out = '';
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out += chunk.toString();
      return true;
    });
    try {
      await program.parseAsync(
        ['mesh', args[0] as string, '--server', server.url, '--token', adminToken, ...args.slice(1)],
        {
          from: 'user',
        },
      );
    } finally {
      spy.mockRestore();
    }
    return out;
  };
  const api = async (method: string, path: string, body: unknown, token = adminToken) => {
    const res = await callApi(server.url, method, path, { body, token });
    expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
    return res.body;
  };

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    for (const name of ['prod', 'test']) await api('POST', '/api/v1/environments', { name });
    await api('PUT', '/api/v1/mesh/environments/prod', { enabled: true });
    const agent = (await api('POST', '/api/v1/tokens', { kind: 'agent', name: 'a', environment: 'prod' })).token;
    const nodes = ['web-1', 'web-2', 'web-3'];
    const creds = new Map<string, string>();
    for (const [i, n] of nodes.entries()) {
      creds.set(n, await agentCredentialFor(server.url, agent, n));
      const publicKey = generateKeyPairSync('ec', { namedCurve: 'P-256' })
        .publicKey.export({ format: 'pem', type: 'spki' })
        .toString();
      await api('POST', '/api/v1/agent/mesh/certificate', { publicKey, address: `10.0.0.${i + 1}:7946` }, creds.get(n));
    }
    // web-3 answers nobody; web-1 → web-2 is the slowest working pair.
    const rtt: Record<string, number> = { 'web-1>web-2': 0.0125, 'web-2>web-1': 0.0004 };
    for (const from of nodes) {
      const summaries = nodes
        .filter((to) => to !== from)
        .map((to) =>
          to === 'web-3'
            ? { from, to, phase: 'request', minute, count: 30, failed: 30 }
            : {
                from,
                to,
                phase: 'request',
                minute,
                count: 30,
                failed: 3,
                p50: rtt[`${from}>${to}`] ?? 0.001,
                p99: 0.02,
              },
        );
      await api('POST', '/api/v1/agent/mesh/summaries', { summaries }, creds.get(from));
    }
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('shows nodes, states and the node nobody reaches, finding the one environment with the mesh on', async () => {
    const out = await run(['status']);
    expect(out).toMatch(/^prod: mesh on, 3 nodes \(3 alive\), 1 partition\n/);
    expect(out).toMatch(/INSTANCE\s+STATE\s+ADDRESS\s+PARTITION/);
    expect(out).toMatch(/web-2\s+alive\s+10\.0\.0\.2:7946\s+1/);
    expect(out).toContain('flagged: web-3: unreachable from 2 of 2 peers');
    const json = JSON.parse(await run(['status', '--json', '--env', 'prod']));
    expect(json.flagged).toEqual(['web-3']);
    expect(json.nodes).toHaveLength(3);
    expect(json.pairs).toBeUndefined();
  });

  it('lists the slowest pairs first, and one pair’s minutes', async () => {
    const out = await run(['pairs', '--slowest', '3']);
    const lines = out.trim().split('\n');
    expect(lines[0]).toMatch(/^prod: slowest pairs by request p50/);
    expect(lines[1]).toMatch(/^FROM\s+TO\s+P50\s+P99\s+LOSS\s+PROBES$/);
    // Pairs nobody answered come first (no p50), then the slowest working one.
    expect(lines.slice(2).map((l) => l.split(/\s+/).slice(0, 2).join('>'))).toEqual([
      'web-1>web-3',
      'web-2>web-3',
      'web-1>web-2',
    ]);
    expect(lines[4]).toMatch(/12\.5 ms\s+20\.0 ms\s+10%\s+30$/);
    const json = JSON.parse(await run(['pairs', '--slowest', '1', '--json']));
    expect(json.pairs).toHaveLength(1);

    const series = await run(['pairs', '--from', 'web-1', '--to', 'web-2', '--window', '1h']);
    expect(series).toMatch(/^prod: web-1 → web-2\n/);
    expect(series).toMatch(/request\s+12\.5 ms\s+20\.0 ms\s+10%\s+30/);
  });

  it('runs as the `flotilla` command', async () => {
    const res = await runCli([
      'mesh',
      'status',
      '--server',
      server.url,
      '--token',
      adminToken,
      '--env',
      'prod',
      '--json',
    ]);
    expect(res.status, res.stderr).toBe(0);
    expect(JSON.parse(res.stdout).partitions).toEqual([['web-1', 'web-2', 'web-3']]);
  });

  it('says what to do when the environment is ambiguous or missing', async () => {
    await expect(run(['status', '--env', 'nowhere'])).rejects.toThrow(/environment "nowhere" does not exist/);
    await api('PUT', '/api/v1/mesh/environments/test', { enabled: true });
    await expect(run(['status'])).rejects.toThrow(/the mesh is on in prod, test: choose one with --env/);
    await expect(run(['pairs', '--env', 'prod', '--from', 'web-1'])).rejects.toThrow(/--from and --to go together/);
    await expect(run(['pairs', '--env', 'prod', '--slowest', '0'])).rejects.toThrow(/--slowest takes a whole number/);
  });
});
