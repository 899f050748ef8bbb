// 20 `flotilla mesh` processes on loopback: all join through one node and see all 20; a node killed
// with SIGKILL (no goodbye) is declared dead by every other node within DEAD_WITHIN_MS.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { freeListenPort, type MeshProcess, spawnMesh, stopAll } from './mesh-command.test.helper.ts';

const NODES = 20;
/** Probe 1 s + timeout 0.5 s + indirect probes + suspicion 4·log10(20) s ≈ 7 s, and gossip; slack for a loaded machine. */
const DEAD_WITHIN_MS = 30_000;
const TOKEN = 'loopback-mesh-token';

afterEach(stopAll);

const names = Array.from({ length: NODES }, (_, i) => `n${String(i).padStart(2, '0')}`);

async function nodesOf(apiPort: number): Promise<string[]> {
  const res = await fetch(`http://127.0.0.1:${apiPort}/api/v1/nodes`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  return ((await res.json()) as { nodes: string[] }).nodes;
}

describe(`flotilla mesh: ${NODES} processes on loopback`, () => {
  it('converge, and all declare a killed node dead', async () => {
    const ports: { mesh: number; api: number }[] = [];
    const taken = new Set<number>();
    const pick = async () => {
      for (;;) {
        const port = await freeListenPort();
        if (!taken.has(port)) {
          taken.add(port);
          return port;
        }
      }
    };
    for (let i = 0; i < NODES; i++) ports.push({ mesh: await pick(), api: await pick() });
    const seed = `127.0.0.1:${ports[0]?.mesh}`;
    const procs: MeshProcess[] = names.map((name, i) =>
      spawnMesh([
        '--name',
        name,
        ...(i === 0 ? [] : ['--target', seed]),
        '--listen-address',
        '127.0.0.1',
        '--listen-port',
        String(ports[i]?.mesh),
        '--api-port',
        String(ports[i]?.api),
        '--token',
        TOKEN,
      ]),
    );
    await vi
      .waitFor(
        async () => {
          for (const [i, p] of ports.entries()) {
            expect((await nodesOf(p.api)).sort(), `${names[i]}'s view`).toEqual([...names].sort());
          }
        },
        { timeout: 120_000, interval: 1000 },
      )
      .catch(async (err) => {
        // Say which node is missing where, and what that node's own log says.
        const seen = await nodesOf(ports[0]?.api as number).catch(() => [] as string[]);
        for (const [i, name] of names.entries()) {
          if (seen.includes(name)) continue;
          const proc = procs[i] as MeshProcess;
          console.error(`${name} (exit ${proc.child.exitCode}):\n${proc.stderr().split('\n').slice(-30).join('\n')}`);
        }
        throw err;
      });

    const victim = NODES - 1;
    const killedAt = Date.now();
    procs[victim]?.child.kill('SIGKILL');
    await vi.waitFor(
      async () => {
        for (let i = 0; i < victim; i++) {
          expect(procs[i]?.stderr(), `${names[i]}'s log`).toContain(
            `${names[victim]} (127.0.0.1:${ports[victim]?.mesh}) is dead`,
          );
          expect(await nodesOf(ports[i]?.api as number)).not.toContain(names[victim]);
        }
      },
      { timeout: DEAD_WITHIN_MS, interval: 200 },
    );
    const took = Date.now() - killedAt;
    process.stdout.write(`mesh loopback: ${names[victim]} declared dead by all ${victim} others in ${took} ms\n`);
    expect(took).toBeLessThan(DEAD_WITHIN_MS);
    // No false death meanwhile: the live nodes still see each other.
    expect((await nodesOf(ports[0]?.api as number)).length).toBe(NODES - 1);
    const codes = await Promise.all(procs.slice(0, victim).map((p) => p.stop(15_000)));
    expect(codes.every((code) => code === 0)).toBe(true);
  }, 300_000);
});
