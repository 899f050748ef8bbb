// Manifest macros and the install / post-install commands (each in its own process group, with a timeout).
import { spawn } from 'node:child_process';
import { isAbsolute, join } from 'node:path';
import type { InstallManifest, ManifestCommand } from '@flotilla/protocol';
import type { RunSpec } from '../supervisor/types.ts';

export interface Macros {
  version: string;
  role: string;
}

export function expand(text: string, macros: Macros): string {
  return text.replace(/%%(version|role)%%/g, (_, name: 'version' | 'role') => macros[name]);
}

const expandAll = (list: string[] | undefined, m: Macros): string[] => (list ?? []).map((s) => expand(s, m));

function expandEnv(env: Record<string, string> | undefined, m: Macros): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env ?? {})) out[k] = expand(v, m);
  return out;
}

/** Environment variable naming the service directory; lets a restarted agent find processes it lost track of. */
export const serviceMarkerEnv = 'FLOTILLA_SERVICE_DIR';

/** The RunSpec of a version, or null for a library-only service (no `run`). */
export function runSpecOf(
  manifest: InstallManifest,
  versionDir: string,
  macros: Macros,
  serviceDir: string,
): RunSpec | null {
  if (!manifest.run) return null;
  const wd = manifest.run.workingDir ? expand(manifest.run.workingDir, macros) : '.';
  return {
    command: expand(manifest.run.command, macros),
    args: expandAll(manifest.run.args, macros),
    env: { ...expandEnv(manifest.run.env, macros), [serviceMarkerEnv]: serviceDir },
    workingDir: isAbsolute(wd) ? wd : join(versionDir, wd),
    version: macros.version,
  };
}

export interface CommandResult {
  output: string[];
}

export class CommandFailed extends Error {
  override name = 'CommandFailed';
  readonly output: string[];
  constructor(message: string, output: string[]) {
    super(message);
    this.output = output;
  }
}

/** Runs one manifest command in `cwd`; rejects with CommandFailed on a non-zero exit or timeout. */
export function runCommand(
  cmd: ManifestCommand,
  cwd: string,
  macros: Macros,
  defaultTimeoutSec = 300,
): Promise<CommandResult> {
  const command = expand(cmd.command, macros);
  const args = expandAll(cmd.args, macros);
  const timeoutMs = (cmd.timeoutSec ?? defaultTimeoutSec) * 1000;
  return new Promise((resolve, reject) => {
    const lines: string[] = [];
    const keep = (buf: Buffer) => {
      for (const line of buf.toString('utf8').split('\n')) if (line !== '') lines.push(line);
      if (lines.length > 200) lines.splice(0, lines.length - 200);
    };
    const child = spawn(command, args, {
      cwd,
      env: { ...process.env, ...expandEnv(cmd.env, macros) },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {}
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new CommandFailed(`${command}: ${err.message}`, lines));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) reject(new CommandFailed(`${command} timed out after ${timeoutMs / 1000} s`, lines));
      else if (code !== 0) reject(new CommandFailed(`${command} exited with ${code ?? signal}`, lines));
      else resolve({ output: lines });
    });
  });
}

export async function runCommands(list: ManifestCommand[] | undefined, cwd: string, macros: Macros): Promise<string[]> {
  const out: string[] = [];
  for (const cmd of list ?? []) out.push(...(await runCommand(cmd, cwd, macros)).output);
  return out;
}
