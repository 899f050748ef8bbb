// Runs the README's shell blocks as a reader would: one bash session, in order, with the state
// (variables, working directory) carried from block to block.
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** How the README says a block is run, from a `<!-- readme-test: MODE -->` line just before it. */
export type BlockMode = 'run' | 'ci' | 'server' | 'background' | 'install';

export interface ReadmeBlock {
  index: number;
  /** The README line the block's first command is on. */
  line: number;
  mode: BlockMode;
  text: string;
}

/** Every fenced `sh` block of a Markdown text, with its mode. */
export function shellBlocks(markdown: string): ReadmeBlock[] {
  const lines = markdown.split('\n');
  const blocks: ReadmeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]?.trim() !== '```sh') continue;
    let prev = i - 1;
    while (prev >= 0 && lines[prev]?.trim() === '') prev--;
    const marker = /^<!-- readme-test: (\w+) -->$/.exec(lines[prev]?.trim() ?? '');
    const mode = (marker?.[1] ?? 'run') as BlockMode;
    if (!['run', 'ci', 'server', 'background', 'install'].includes(mode))
      throw new Error(`README line ${prev + 1}: unknown mode ${mode}`);
    const end = lines.findIndex((l, j) => j > i && l.trim() === '```');
    if (end < 0) throw new Error(`README line ${i + 1}: unclosed block`);
    blocks.push({ index: blocks.length, line: i + 2, mode, text: lines.slice(i + 1, end).join('\n') });
    i = end;
  }
  return blocks;
}

/** The README line numbers whose comment says the command is refused: those must fail, the rest not. */
export function refusedLines(text: string): number[] {
  return text.split('\n').flatMap((l, i) => (/#\s*refused\b/.test(l) && !l.trim().startsWith('#') ? [i + 1] : []));
}

export interface BlockResult {
  stdout: string;
  stderr: string;
  /** Lines of the block (1-based) where a command failed, with its status. */
  failures: Array<{ line: number; status: number }>;
}

/** One bash process that sources each block from a file, so state carries over as in a terminal. */
export class ShellSession {
  readonly #bash: ChildProcess;
  readonly #dir: string;
  #output = '';
  #waiters: Array<() => void> = [];
  #count = 0;
  /** Process group ids of the background blocks, newest last. */
  #jobs: number[] = [];

  constructor(dir: string, env: NodeJS.ProcessEnv, cwd: string) {
    this.#dir = dir;
    // A process group of its own, so a block that hangs can be ended with the shell.
    this.#bash = spawn('bash', ['--noprofile', '--norc'], {
      cwd,
      env,
      stdio: ['pipe', 'pipe', 'inherit'],
      detached: true,
    });
    this.#bash.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.#output += chunk;
      for (const wake of this.#waiters.splice(0)) wake();
    });
    // -a: variables reach background blocks, which run in a session of their own (setsid).
    this.#send('set -a -E -o pipefail');
  }

  #send(line: string): void {
    this.#bash.stdin?.write(`${line}\n`);
  }

  async #until(marker: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#output.includes(marker)) {
      const left = deadline - Date.now();
      if (left <= 0) {
        this.#kill(this.#bash.pid, 'SIGKILL');
        throw new Error(`timed out after ${timeoutMs} ms waiting for the shell (it was ended)`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Sources the text in the foreground; ERR traps record each failing line instead of stopping. */
  async run(text: string, timeoutMs: number): Promise<BlockResult> {
    const n = ++this.#count;
    const base = join(this.#dir, `block-${n}`);
    writeFileSync(`${base}.sh`, `${text}\n`);
    writeFileSync(`${base}.fail`, '');
    this.#send(
      `trap 'echo "$LINENO $?" >> ${base}.fail' ERR; source ${base}.sh > ${base}.out 2> ${base}.err < /dev/null; trap - ERR; echo __done_${n}__`,
    );
    await this.#until(`__done_${n}__`, timeoutMs);
    const failures = readFileSync(`${base}.fail`, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [line, status] = l.split(' ').map(Number);
        return { line: line ?? 0, status: status ?? 0 };
      });
    return { stdout: readFileSync(`${base}.out`, 'utf8'), stderr: readFileSync(`${base}.err`, 'utf8'), failures };
  }

  /** Starts the text as a background job with its output in a file; returns the file's path. */
  async start(text: string): Promise<string> {
    const n = ++this.#count;
    const base = join(this.#dir, `block-${n}`);
    writeFileSync(`${base}.sh`, `${text}\n`);
    // A session of its own, so stopJobs() can end the whole group as closing a terminal would.
    this.#send(
      `setsid bash --noprofile --norc -c 'source ${base}.sh' > ${base}.out 2>&1 < /dev/null & echo __started_${n}__ $!`,
    );
    await this.#until(`__started_${n}__`, 10_000);
    const pid = Number(new RegExp(`__started_${n}__ (\\d+)`).exec(this.#output)?.[1]);
    if (pid > 0) this.#jobs.push(pid);
    return `${base}.out`;
  }

  #kill(pgid: number | undefined, signal: NodeJS.Signals | 0): boolean {
    if (!pgid) return false;
    try {
      process.kill(-pgid, signal);
      return true;
    } catch {
      return false;
    }
  }

  /** Ends the background jobs newest first (SIGTERM to each group, as closing its terminal would). */
  async stopJobs(graceMs = 20_000): Promise<void> {
    for (const pgid of this.#jobs.splice(0).reverse()) {
      this.#kill(pgid, 'SIGTERM');
      for (let waited = 0; waited < graceMs && this.#kill(pgid, 0); waited += 100) {
        await new Promise((r) => setTimeout(r, 100));
      }
      this.#kill(pgid, 'SIGKILL');
    }
  }

  async close(): Promise<void> {
    await this.stopJobs();
    if (this.#bash.exitCode !== null || this.#bash.signalCode !== null) return;
    const exited = new Promise((resolve) => this.#bash.once('exit', resolve));
    this.#bash.stdin?.end();
    const timer = setTimeout(() => this.#kill(this.#bash.pid, 'SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}

/** Processes whose working directory is inside `dir` (left behind by a block). */
export function processesIn(dir: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readlinkSync(`/proc/${name}/cwd`).startsWith(dir)) pids.push(Number(name));
    } catch {
      // Gone, or not ours to read.
    }
  }
  return pids;
}
