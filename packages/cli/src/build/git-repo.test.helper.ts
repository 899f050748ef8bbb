// Real git repositories for build tests, made with the git binary in a temp directory.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { dirname, join } from 'node:path';

const identity = {
  GIT_AUTHOR_NAME: 'test',
  GIT_AUTHOR_EMAIL: 'test@example.invalid',
  GIT_COMMITTER_NAME: 'test',
  GIT_COMMITTER_EMAIL: 'test@example.invalid',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
};

export function gitIn(dir: string, args: string[]): string {
  return execFileSync('git', args, { cwd: dir, env: { ...process.env, ...identity }, encoding: 'utf8' }).trim();
}

/** Writes the files (path → content) and commits them on the current branch; returns the commit. */
export function commitFiles(dir: string, files: Record<string, string>, message = 'change'): string {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content, { mode: path.endsWith('.sh') ? 0o755 : 0o644 });
  }
  gitIn(dir, ['add', '--all']);
  gitIn(dir, ['commit', '--quiet', '-m', message]);
  return gitIn(dir, ['rev-parse', 'HEAD']);
}

/** A new repository on branch `main` at `dir` with one commit of `files`. */
export function makeRepo(dir: string, files: Record<string, string>): string {
  mkdirSync(dir, { recursive: true });
  gitIn(dir, ['init', '--quiet', '--initial-branch=main']);
  return commitFiles(dir, files, 'first');
}

export interface GitDaemon {
  /** `git://127.0.0.1:<port>/<name>.git` */
  url(name: string): string;
  /** `name=git://127.0.0.1:<port>/<name>.git#<ref>`, a `--source` for the repository `<name>.git`. */
  source(name: string, ref?: string): string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function listening(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const sock = new Socket();
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
    sock.connect(port, '127.0.0.1');
  });
}

/** `git daemon` serving every repository under `base` on a loopback port, read-only unless `push`. */
export async function startGitDaemon(base: string, opts: { push?: boolean } = {}): Promise<GitDaemon> {
  const port = await freePort();
  const push = opts.push ? ['--enable=receive-pack'] : [];
  const daemon: ChildProcess = spawn(
    'git',
    [
      'daemon',
      '--listen=127.0.0.1',
      `--port=${port}`,
      '--export-all',
      ...push,
      `--base-path=${base}`,
      '--reuseaddr',
      base,
    ],
    { stdio: 'ignore' },
  );
  for (let i = 0; i < 100 && !(await listening(port)); i++) await new Promise((r) => setTimeout(r, 50));
  if (!(await listening(port))) {
    daemon.kill();
    throw new Error(`git daemon did not listen on ${port}`);
  }
  return {
    url: (name) => `git://127.0.0.1:${port}/${name}.git`,
    source: (name, ref = 'main') => `${name}=git://127.0.0.1:${port}/${name}.git#${ref}`,
    async stop() {
      if (daemon.exitCode !== null || daemon.signalCode !== null) return;
      const exited = new Promise((r) => daemon.once('exit', r));
      daemon.kill();
      await exited;
    },
  };
}
