import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../../../cli/src/main.ts', import.meta.url));

export interface SpawnedServer {
  child: ChildProcess;
  url: string;
  /** Standard output and standard error together, in the order they arrived. */
  output(): string;
  /** Standard output alone. */
  stdout(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs `flotilla server` as a separate process, as a user would, and waits until it listens. */
export async function spawnServer(flags: string[], env: Record<string, string> = {}): Promise<SpawnedServer> {
  const child = spawn(
    process.execPath,
    ['--conditions=@flotilla/source', cli, 'server', '--host', '127.0.0.1', '--port', '0', ...flags],
    {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let stdout = '';
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
    stdout += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 20_000);
    const check = () => {
      const m = /"url":"(http:\/\/[^"]+)"/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1] as string);
      }
    };
    child.stdout?.on('data', check);
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${out}`));
    });
  });
  return { child, url, output: () => out, stdout: () => stdout, exited };
}
