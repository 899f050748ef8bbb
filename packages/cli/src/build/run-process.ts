// One child process of a build (a build command or git) in a process group of its own, so a timeout
// or the end of the command takes every process it started with it. Output is kept bounded in memory.
import { spawn } from 'node:child_process';

/** Combined stdout and stderr kept per process: the last 1 MiB (what outputMatch and failures see). */
export const maxCapturedBytes = 1024 * 1024;

export interface ProcessOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  /** Between SIGTERM and SIGKILL after a timeout. */
  killGraceMs?: number;
  /** Every chunk of output as it arrives (stdout and stderr interleaved), e.g. to the build log. */
  onOutput?: (chunk: Buffer) => void;
  /** Every chunk of stdout alone as it arrives, for answers too long to keep. */
  onStdout?: (chunk: Buffer) => void;
  /** Keep stdout apart too (bounded the same way), for commands whose answer is read. */
  keepStdout?: boolean;
  /** Kills the command's process group at once (a watchdog that saw it go too far). */
  abort?: AbortSignal;
}

export interface ProcessResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** The last maxCapturedBytes of stdout and stderr, interleaved as they arrived. */
  output: string;
  stdout: string;
  /** Killed through `abort`. */
  aborted?: boolean;
  /** Set when the command could not start (e.g. ENOENT). */
  spawnError?: Error;
}

class Tail {
  #chunks: Buffer[] = [];
  #size = 0;
  push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    while (this.#size - (this.#chunks[0]?.length ?? 0) >= maxCapturedBytes) {
      this.#size -= (this.#chunks.shift() as Buffer).length;
    }
  }
  text(): string {
    const all = Buffer.concat(this.#chunks);
    return all.subarray(Math.max(0, all.length - maxCapturedBytes)).toString('utf8');
  }
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is gone already.
  }
}

// The groups of the commands running now: a builder that is stopped takes them with it.
const active = new Set<number>();

/** Kills every running command's process group (a stopped or cancelled build). */
export function killActiveProcesses(signal: NodeJS.Signals = 'SIGKILL'): void {
  for (const pid of active) killGroup(pid, signal);
}

/** Runs `command` with `args`, never through a shell; resolves whatever the outcome. */
export function runProcess(command: string, args: string[], opts: ProcessOptions): Promise<ProcessResult> {
  return new Promise((resolve) => {
    const output = new Tail();
    const stdout = new Tail();
    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    const child = spawn(command, args, {
      cwd: opts.cwd,
      env: opts.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (child.pid !== undefined) active.add(child.pid);
    const take = (isStdout: boolean) => (chunk: Buffer) => {
      output.push(chunk);
      if (isStdout && opts.keepStdout) stdout.push(chunk);
      if (isStdout) opts.onStdout?.(chunk);
      opts.onOutput?.(chunk);
    };
    child.stdout.on('data', take(true));
    child.stderr.on('data', take(false));
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid, 'SIGTERM');
      killTimer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), opts.killGraceMs ?? 5000);
    }, opts.timeoutMs);
    let aborted = false;
    const onAbort = () => {
      aborted = true;
      killGroup(child.pid, 'SIGKILL');
    };
    if (opts.abort?.aborted) onAbort();
    else opts.abort?.addEventListener('abort', onAbort, { once: true });
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    // Processes the command left behind would hold the pipes open: they go with it.
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      killGroup(child.pid, 'SIGKILL');
      if (child.pid !== undefined) active.delete(child.pid);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      opts.abort?.removeEventListener('abort', onAbort);
      const done = exit ?? { code, signal };
      resolve({ ...done, timedOut, output: output.text(), stdout: stdout.text(), ...(aborted ? { aborted } : {}) });
    });
    child.on('error', (err) => {
      opts.abort?.removeEventListener('abort', onAbort);
      clearTimeout(timer);
      clearTimeout(killTimer);
      resolve({ code: null, signal: null, timedOut, output: output.text(), stdout: '', spawnError: err });
    });
  });
}

/** The last `lines` lines of output, for error messages. */
export function tailLines(text: string, lines = 20): string {
  const all = text.replace(/\n+$/, '').split('\n');
  return all.slice(-lines).join('\n');
}
