// The build commands of update.json: each without a shell, macros expanded, in a directory of the
// source tree, with a timeout, then checked for its exit code and, when asked, its output.
import { realpathSync, statSync } from 'node:fs';
import { isAbsolute, resolve, sep } from 'node:path';
import type { SpecCommand } from '@flotilla/protocol';
import { RE2JS } from 're2js';
import type { BuildLog } from './build-log.ts';
import { BuildInputError, expandMacros, type Macros } from './macros.ts';
import { maxCapturedBytes, runProcess, tailLines } from './run-process.ts';
import { nameValues, specFileName } from './spec/spec-files.ts';
import { BuildStepError } from './step-error.ts';

export interface RunCommandsOptions {
  /** `<workdir>/source`: commands may run anywhere inside it, nowhere else. */
  sourcesDir: string;
  /** The first source: where commands run by default and where `directory` is resolved from. */
  firstRoot: string;
  macros: Macros;
  timeoutMs: number;
  killGraceMs?: number;
  log: BuildLog;
  /** The spec the commands come from, for messages (default update.json). */
  specFile?: string;
}

// The API token of the person building is not for the repository's build scripts.
const hiddenEnv = ['FLOTILLA_TOKEN'];

export function isInside(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : `${root}${sep}`);
}

function compileMatch(pattern: string, where: string, file: string): RE2JS {
  try {
    return RE2JS.compile(pattern, RE2JS.MULTILINE);
  } catch (err) {
    throw new BuildInputError(
      file,
      undefined,
      `${where}.outputMatch: not a valid RE2 expression: ${(err as Error).message}`,
    );
  }
}

function workingDir(directory: string | undefined, opts: RunCommandsOptions, where: string): string {
  const file = opts.specFile ?? specFileName;
  if (directory === undefined) return opts.firstRoot;
  if (isAbsolute(directory)) throw new BuildInputError(file, undefined, `${where}.directory: must be relative`);
  const path = resolve(opts.firstRoot, directory);
  let real: string;
  try {
    real = realpathSync(path);
    if (!statSync(real).isDirectory()) throw new Error('not a directory');
  } catch {
    throw new BuildInputError(file, undefined, `${where}.directory: ${directory} is not a directory`);
  }
  if (!isInside(realpathSync(opts.sourcesDir), real)) {
    throw new BuildInputError(file, undefined, `${where}.directory: ${directory} is outside the sources`);
  }
  return real;
}

/** Runs the commands in order; throws BuildStepError at the first that fails its checks. */
export async function runBuildCommands(commands: SpecCommand[], opts: RunCommandsOptions): Promise<void> {
  const file = opts.specFile ?? specFileName;
  // Every expression is checked before anything runs, so a typo costs no build time.
  const matchers = commands.map((c, i) =>
    c.outputMatch === undefined ? undefined : compileMatch(c.outputMatch, `build.buildCommands[${i}]`, file),
  );
  const baseEnv = { ...process.env };
  for (const name of hiddenEnv) delete baseEnv[name];
  for (const [i, c] of commands.entries()) {
    const where = `build.buildCommands[${i}]`;
    const expand = (text: string, field: string) => expandMacros(text, opts.macros, `${file} ${where}.${field}`);
    const command = expand(c.command, 'command');
    const args = (c.args ?? []).map((a, j) => expand(a, `args[${j}]`));
    const env = Object.fromEntries(Object.entries(nameValues(c.env)).map(([k, v]) => [k, expand(v, `env.${k}`)]));
    const cwd = workingDir(c.directory === undefined ? undefined : expand(c.directory, 'directory'), opts, where);
    const shown = [command, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
    const step = `${where} (${shown})`;
    opts.log.line(`$ ${shown}`);
    const started = Date.now();
    const result = await runProcess(command, args, {
      cwd,
      env: { ...baseEnv, ...env },
      timeoutMs: opts.timeoutMs,
      killGraceMs: opts.killGraceMs,
      onOutput: (chunk) => opts.log.write(chunk),
    });
    const tail = tailLines(result.output);
    if (result.spawnError) throw new BuildStepError(step, `could not start: ${result.spawnError.message}`);
    if (result.timedOut) {
      throw new BuildStepError(step, `timed out after ${opts.timeoutMs / 1000} s; its process group was killed`, tail);
    }
    const expected = c.exitCode ?? 0;
    if (result.code !== expected) {
      const got = result.code === null ? `signal ${result.signal}` : `exit code ${result.code}`;
      throw new BuildStepError(step, `${got}, expected ${expected}`, tail);
    }
    const matcher = matchers[i];
    if (matcher && !matcher.matcher(result.output).find()) {
      const scope = result.output.length >= maxCapturedBytes ? ' (in its last 1 MiB)' : '';
      throw new BuildStepError(step, `output does not match /${c.outputMatch}/${scope}`, tail);
    }
    opts.log.line(`ok in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
}
