// docs/mesh.md's quick start as written: eagle and duck as `flotilla mesh` processes (free ports in
// place of 8080-8083), checked as the text says: both list each other, samples of both directions on
// both nodes, tokens, a refused name, and a leave the other node sees.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { freeListenPort, type MeshProcess, spawnMesh, stopAll } from './mesh-command.test.helper.ts';

const doc = readFileSync(new URL('../../../docs/mesh.md', import.meta.url), 'utf8');

afterEach(stopAll);

/** The shell block after `<!-- mesh-test: NAME -->`, continuation lines joined. */
function block(name: string): string[] {
  const at = doc.indexOf(`<!-- mesh-test: ${name} -->`);
  const m = /```sh\n([\s\S]*?)```/.exec(doc.slice(at));
  if (at === -1 || !m?.[1]) throw new Error(`docs/mesh.md has no mesh-test block ${name}`);
  return m[1]
    .replace(/\\\n\s*/g, '')
    .split('\n')
    .filter((line) => line.trim() !== '');
}

/** The shell block right after the quick-start one: curl lines and the answers their comments show. */
function curlBlock(): { path: string; port: number; expected?: unknown }[] {
  const rest = doc.slice(doc.indexOf('<!-- mesh-test: quick-start -->'));
  const second = [...rest.matchAll(/```sh\n([\s\S]*?)```/g)][1]?.[1] ?? '';
  const lines = second.split('\n');
  return lines.flatMap((line, i) => {
    const m = /^curl .*http:\/\/localhost:(\d+)(\/\S+)$/.exec(line.trim());
    if (!m?.[1] || !m[2]) return [];
    const next = lines[i + 1]?.trim() ?? '';
    const expected = next.startsWith('# {"nodes"') ? JSON.parse(next.slice(2)) : undefined;
    return [{ port: Number(m[1]), path: m[2], expected }];
  });
}

const get = (port: number, path: string, token?: string) =>
  fetch(`http://localhost:${port}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });

interface Sample {
  from: string;
  to: string;
  type: string;
  value: string;
}

describe('flotilla mesh: the quick start of docs/mesh.md', () => {
  it('joins eagle and duck, measures both ways, refuses a taken name, and sees a leave', async () => {
    const ports = new Map<number, number>();
    for (const p of [8080, 8081, 8082, 8083]) ports.set(p, await freeListenPort());
    const mapPorts = (text: string) => text.replace(/\b808[0-3]\b/g, (p) => String(ports.get(Number(p))));
    const commands = block('quick-start');
    expect(commands).toHaveLength(2);
    const nodes: MeshProcess[] = commands.map((line) => {
      expect(line).toMatch(/^flotilla mesh /);
      return spawnMesh(mapPorts(line).split(/\s+/).slice(2));
    });
    const [eagle, duck] = nodes as [MeshProcess, MeshProcess];
    const eagleToken = await eagle.token();
    const duckToken = await duck.token();
    const eagleApi = ports.get(8081) as number;
    const duckApi = ports.get(8083) as number;

    // The curl lines of the text, and the answer shown for the node list.
    const calls = curlBlock();
    expect(calls.map((c) => c.path)).toEqual(['/api/v1/nodes', '/api/v1/samples', '/metrics']);
    const nodesCall = calls[0] as { port: number; path: string; expected: unknown };
    expect(nodesCall.expected).toEqual({ nodes: ['eagle', 'duck'] });
    await vi.waitFor(
      async () => {
        const res = await get(ports.get(nodesCall.port) as number, nodesCall.path, eagleToken);
        expect(await res.json()).toEqual(nodesCall.expected);
        expect(await (await get(duckApi, '/api/v1/nodes', duckToken)).json()).toEqual({ nodes: ['duck', 'eagle'] });
      },
      { timeout: 30_000, interval: 250 },
    );

    // Tokens: none, a wrong one, or the other node's generated one are refused; never logged.
    expect((await get(eagleApi, '/api/v1/samples')).status).toBe(401);
    expect((await get(eagleApi, '/api/v1/samples', 'wrong')).status).toBe(401);
    expect((await get(eagleApi, '/metrics', duckToken)).status).toBe(401);
    expect(eagle.stderr()).not.toContain(eagleToken);
    expect(eagle.stderr().match(/the mesh port is open/g)).toHaveLength(1);

    // The mesh port (no token, no certificate here) drops a malformed message and counts it.
    const meshPort = ports.get(8080) as number;
    const bad = await fetch(`http://localhost:${meshPort}/mesh/v1/messages`, { method: 'POST', body: '{"kind":1}' });
    expect(bad.status).toBe(400);
    const metrics = await (await get(eagleApi, '/metrics', eagleToken)).text();
    expect(metrics).toContain('node_count 1');
    expect(metrics).toContain('mesh_messages_dropped_total{reason="malformed"} 1');

    // Samples of both directions on both nodes, once the first minute closed (up to 70 s) and spread.
    const both = async (port: number, token: string) => {
      const { samples } = (await (await get(port, '/api/v1/samples', token)).json()) as { samples: Sample[] };
      for (const [from, to] of [
        ['eagle', 'duck'],
        ['duck', 'eagle'],
      ]) {
        for (const type of ['rtt_total', 'rtt_request', 'connect', 'request']) {
          const s = samples.find((x) => x.from === from && x.to === to && x.type === type);
          expect(s, `${from}→${to} ${type} on port ${port}`).toBeDefined();
          expect(Number(s?.value)).toBeGreaterThan(0);
        }
      }
    };
    await vi.waitFor(
      async () => {
        await both(eagleApi, eagleToken);
        await both(duckApi, duckToken);
      },
      { timeout: 120_000, interval: 1000 },
    );
    // The histogram's buckets start below a LAN round trip (canary-bot's first was 5 ms).
    expect(await (await get(eagleApi, '/metrics', eagleToken)).text()).toMatch(
      /rtt_bucket\{le="0\.00005",type="request",to="duck"\} \d+/,
    );

    // A second "duck" is refused and exits 1 with the reason.
    const twin = spawnMesh([
      '--name',
      'duck',
      '--target',
      `localhost:${meshPort}`,
      '--listen-address',
      'localhost',
      '--listen-port',
      String(await freeListenPort()),
      '--api-port',
      String(await freeListenPort()),
    ]);
    expect(await twin.exited).toBe(1);
    expect(twin.stderr()).toContain(
      `flotilla: cannot join the mesh as "duck": name "duck" is already held by localhost:${ports.get(8082)}`,
    );
    expect(await (await get(eagleApi, '/api/v1/nodes', eagleToken)).json()).toEqual({ nodes: ['eagle', 'duck'] });

    // SIGTERM: duck leaves, exits 0, and eagle logs it and lists only itself.
    expect(await duck.stop()).toBe(0);
    await vi.waitFor(
      async () => {
        expect(eagle.stderr()).toContain(`duck (localhost:${ports.get(8082)}) left`);
        expect(await (await get(eagleApi, '/api/v1/nodes', eagleToken)).json()).toEqual({ nodes: ['eagle'] });
      },
      { timeout: 10_000, interval: 100 },
    );
    expect(await eagle.stop()).toBe(0);
  }, 240_000);
});
