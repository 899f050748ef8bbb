// The `install` section of update.json becomes the version's flotilla.json (the InstallManifest the
// agent reads). What the agent cannot do is refused here, naming the field, so nothing is silently lost.
import {
  type InstallManifest,
  InstallManifest as Schema,
  type SpecCommand,
  type SpecInstall,
} from '@flotilla/protocol';
import { Value } from 'typebox/value';
import { BuildInputError, expandMacros, type Macros } from '../macros.ts';
import { faultRegexToGlobs } from './fault-glob.ts';
import { agentMacros, nameValues, specFileName } from './spec-files.ts';

type ManifestCommand = NonNullable<InstallManifest['install']>[number];

export interface Translation {
  manifest: InstallManifest;
  /** Spec fields accepted but without effect in Flotilla, one line each, for the build log. */
  notes: string[];
}

function refuse(path: string, reason: string): never {
  throw new BuildInputError(specFileName, undefined, `${path}: ${reason}`);
}

function command(c: SpecCommand, path: string, expand: (s: string, p: string) => string): ManifestCommand {
  if (c.directory !== undefined && c.directory !== '.') {
    refuse(`${path}.directory`, 'not supported in install commands (the agent runs them in the version directory)');
  }
  if (c.exitCode !== undefined && c.exitCode !== 0) {
    refuse(`${path}.exitCode`, 'the agent accepts only exit code 0 from install commands');
  }
  if (c.outputMatch !== undefined) refuse(`${path}.outputMatch`, 'the agent does not check install command output');
  const env = nameValues(c.env);
  return {
    command: expand(c.command, `${path}.command`),
    ...(c.args ? { args: c.args.map((a, i) => expand(a, `${path}.args[${i}]`)) } : {}),
    ...(Object.keys(env).length > 0
      ? { env: Object.fromEntries(Object.entries(env).map(([k, v]) => [k, expand(v, `${path}.env.${k}`)])) }
      : {}),
  };
}

/**
 * Builds flotilla.json from the install section. `macros` (the --macro values) are expanded now;
 * `%%version%%` and `%%role%%` are left for the agent; any other macro stops the build.
 */
export function installToManifest(install: SpecInstall | undefined, macros: Macros): Translation {
  const all = { ...macros, ...agentMacros };
  const expand = (text: string, path: string) => expandMacros(text, all, `${specFileName} ${path}`);
  const manifest: InstallManifest = {};
  const notes: string[] = [];
  if (install?.installCommands?.length) {
    manifest.install = install.installCommands.map((c, i) => command(c, `install.installCommands[${i}]`, expand));
  }
  if (install?.postInstallCommands?.length) {
    manifest.postInstall = install.postInstallCommands.map((c, i) =>
      command(c, `install.postInstallCommands[${i}]`, expand),
    );
  }
  const run = install?.runService;
  if (run) {
    manifest.run = {
      command: expand(run.command, 'install.runService.command'),
      ...(run.args ? { args: run.args.map((a, i) => expand(a, `install.runService.args[${i}]`)) } : {}),
    };
    const logs: NonNullable<InstallManifest['logs']> = {};
    if (run.writeLogs?.maxFileSizeMB !== undefined) logs.maxFileSizeMB = run.writeLogs.maxFileSizeMB;
    if (run.writeLogs?.maxFilesCount !== undefined) logs.maxFilesCount = run.writeLogs.maxFilesCount;
    if (run.uploadLogs !== undefined) logs.uploadLogs = run.uploadLogs;
    if (Object.keys(logs).length > 0) manifest.logs = logs;
    for (const field of ['directory', 'filePrefix'] as const) {
      if (run.writeLogs?.[field] !== undefined) {
        notes.push(`install.runService.writeLogs.${field} is not applied: the agent keeps logs in the service's logs/`);
      }
    }
    if (run.faultFilesMatch !== undefined) {
      try {
        manifest.faultFilesMatch = faultRegexToGlobs(run.faultFilesMatch);
      } catch (err) {
        refuse('install.runService.faultFilesMatch', `${(err as Error).message}; use a glob-like expression`);
      }
    }
    const restart: NonNullable<InstallManifest['restart']> = { ...run.restartConditions };
    if (run.restartOnFault !== undefined) restart.onFault = run.restartOnFault;
    if (Object.keys(restart).length > 0) manifest.restart = restart;
  }
  if (!Value.Check(Schema, manifest)) refuse('install', 'does not make a valid flotilla.json');
  return { manifest, notes };
}
