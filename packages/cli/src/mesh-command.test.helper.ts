import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

// `flotilla mesh` nodes as separate processes for tests: spawned from the sources, output captured,
// stopped (SIGTERM, then SIGKILL) by `stopAll` in afterEach.

const main = fileURLToPath(new URL('./main.ts', import.meta.url));

export interface MeshProcess {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** The exit code once the process ended. */
  exited: Promise<number | null>;
  /** The API token printed on stdout (only when no --token was given). */
  token: () => Promise<string>;
  /** SIGTERM, and the exit code; SIGKILL after `ms`. */
  stop(ms?: number): Promise<number | null>;
}

const started = new Set<MeshProcess>();

export function spawnMesh(args: string[], env: Record<string, string | undefined> = {}): MeshProcess {
  const childEnv: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('MESH_')) childEnv[k] = v;
  for (const [k, v] of Object.entries(env)) if (v !== undefined) childEnv[k] = v;
  const child = spawn(process.execPath, ['--conditions=@flotilla/source', main, 'mesh', ...args], {
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const node: MeshProcess = {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    token: async () => {
      for (let waited = 0; waited < 20_000; waited += 50) {
        const m = /^api token: (\S+)$/m.exec(out);
        if (m?.[1]) return m[1];
        if (child.exitCode !== null) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`no token printed; stderr: ${err}`);
    },
    stop: async (ms = 10_000) => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), ms);
      const code = await exited;
      clearTimeout(timer);
      started.delete(node);
      return code;
    },
  };
  started.add(node);
  void exited.then(() => started.delete(node));
  return node;
}

export async function stopAll(): Promise<void> {
  await Promise.all([...started].map((n) => n.stop(5000)));
}

/**
 * A free port below the kernel's ephemeral range (32768 and up on Linux), so that no outgoing
 * connection of another test takes it between this check and the mesh process's bind.
 */
export async function freeListenPort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
  return freePort();
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}
