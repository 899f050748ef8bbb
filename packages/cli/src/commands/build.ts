// `flotilla build`: a version built from git sources by their update.json, published like
// `flotilla version publish`, with its provenance in the signed manifest.
import { writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { DesiredRevision, InstallManifest, VersionList } from '@flotilla/protocol';
import { type Command, Option } from 'commander';
import { CliError } from '../api-client.ts';
import { type GitOptions, parseSource, type SourceSpec } from '../build/git.ts';
import { BuildInputError } from '../build/macros.ts';
import { nextPatchVersion } from '../build/next-version.ts';
import { BuildStepError } from '../build/step-error.ts';
import { type ApiFlags, clientFor, wholeNumber, withApiOptions } from '../command-helpers.ts';
import { examples } from '../help.ts';
import { printResult } from '../output.ts';
import { cliVersion } from '../program-base.ts';
import { queueBuild } from './builds.ts';
import { publishedLine, publishVersion } from './catalog.ts';
import { macroOption } from './macro-option.ts';

const enc = encodeURIComponent;
const defaultCommandTimeoutSec = 1800;
const gitTimeoutMs: GitOptions['timeoutMs'] = 600_000;
// Checked here because the name becomes the log's file name; the server checks the rest.
const versionName = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;

interface BuildFlags extends ApiFlags {
  local?: boolean;
  source: SourceSpec[];
  macro: Record<string, string>;
  setDesired?: string;
  workdir?: string;
  commandTimeout: number;
  notes?: string;
  privateFile: string[];
  submodules: string[];
  tagSources?: boolean;
  detach?: boolean;
  /** Hidden: the server runs this build as job `<dir>` (work/, private/, result.json). */
  serverJob?: string;
}

function defaultWorkdir(service: string): string {
  const cache = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(cache, 'flotilla', 'builds', service);
}

async function chooseVersion(flags: BuildFlags, service: string, given: string | undefined): Promise<string> {
  const client = clientFor(flags);
  const route = `/api/v1/services/${enc(service)}/versions`;
  await client.request('GET', `/api/v1/services/${enc(service)}`);
  if (given !== undefined && !versionName.test(given)) {
    throw new CliError(`"${given}" is not a version name (e.g. 1.4.0 or jetto-3.5.1)`, 2);
  }
  if (given === undefined) {
    const { versions } = await client.request<VersionList>('GET', `${route}?limit=1`);
    try {
      return nextPatchVersion(versions[0]?.version);
    } catch (err) {
      throw new CliError((err as Error).message, 2);
    }
  }
  // Found before the build rather than after it: a taken name costs no build time.
  const taken = await client.request('GET', `${route}/${enc(given)}`).then(
    () => true,
    (err: unknown) => (err instanceof CliError && / 404$/.test(err.detail ?? '') ? false : Promise.reject(err)),
  );
  if (taken) throw new CliError(`version ${given} of service "${service}" already exists`);
  return given;
}

/**
 * Tags each source's built commit `<service>-<version>` and pushes the tag. The version is published
 * already, so a source that cannot be tagged is reported, not fatal.
 */
async function tagSources(
  service: string,
  version: string,
  flags: BuildFlags,
  workdir: string,
  manifest: InstallManifest,
): Promise<void> {
  const { tagSource } = await import('../build/git.ts');
  const tag = `${service}-${version}`;
  for (const built of manifest.provenance?.sources ?? []) {
    const source = flags.source.find((s) => s.name === built.name);
    if (!source) continue;
    try {
      await tagSource(workdir, source, built.commit, tag, { timeoutMs: gitTimeoutMs, log: () => {} });
      process.stderr.write(`tagged ${source.name} ${built.commit.slice(0, 12)} as ${tag}\n`);
    } catch (err) {
      process.stderr.write(`warning: could not tag ${source.name} as ${tag}: ${(err as Error).message}\n`);
    }
  }
}

async function build(service: string, given: string | undefined, flags: BuildFlags): Promise<void> {
  if (flags.source.length === 0) throw new CliError('give at least one --source name=<git url>[#ref][:subdir]', 2);
  for (const name of flags.submodules) {
    const source = flags.source.find((s) => s.name === name);
    if (!source) throw new CliError(`--submodules ${name}: no --source is named ${name}`, 2);
    source.submodules = true;
  }
  const job = flags.serverJob !== undefined ? resolve(flags.serverJob) : undefined;
  if (!flags.local && job === undefined) {
    if (flags.workdir !== undefined) throw new CliError('--workdir is for --local builds; the server keeps its own', 2);
    return queueBuild(service, given, flags);
  }
  const { parseLocalPrivateFiles, stageForLocalBuild } = await import('../build/local-private-files.ts');
  const localPrivate = job === undefined ? parseLocalPrivateFiles(flags.privateFile) : [];
  if (flags.detach) throw new CliError('--detach is for builds on the server (without --local)', 2);
  const version = await chooseVersion(flags, service, given);
  const workdir = job !== undefined ? join(job, 'work') : resolve(flags.workdir ?? defaultWorkdir(service));
  // Loaded on use: the build brings the protocol schemas and re2js, which other commands do without.
  const { runBuild } = await import('../build/run-build.ts');
  const { killActiveProcesses } = await import('../build/run-process.ts');
  // Commands run in process groups of their own, which a signal to this one does not reach.
  for (const [signal, code] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const) {
    process.once(signal, () => {
      killActiveProcesses();
      process.exit(code);
    });
  }
  const staged = stageForLocalBuild(localPrivate);
  let result: Awaited<ReturnType<typeof runBuild>>;
  try {
    result = await runBuild({
      service,
      version,
      sources: flags.source,
      macros: flags.macro,
      workdir,
      commandTimeoutMs: flags.commandTimeout * 1000,
      gitTimeoutMs,
      builder: `flotilla build ${cliVersion}${job !== undefined ? ' (on the server)' : ''}`,
      echo: flags.json ? undefined : (text) => process.stderr.write(text),
      // On the server the job's log is this process's output, so the commands' output goes there too.
      ...(job !== undefined
        ? { echoOutput: (chunk: Buffer) => process.stderr.write(chunk), privateFilesDir: join(job, 'private') }
        : {}),
      ...(staged !== undefined ? { privateFilesDir: staged.dir } : {}),
    });
  } catch (err) {
    if (err instanceof BuildStepError || err instanceof BuildInputError) {
      throw new CliError(
        // On the server the job's log is this output, and the work directory goes with the job.
        `build failed, nothing published: ${err.message}${job !== undefined ? '' : `\nbuild log: ${join(workdir, 'logs', `${version}.log`)}`}`,
      );
    }
    throw err;
  } finally {
    staged?.remove();
  }
  const published = await publishVersion(service, version, result.buildDir, flags);
  // Recorded before anything else can fail: the version exists from here on.
  if (job !== undefined) writeFileSync(join(job, 'result.json'), JSON.stringify({ version }), { mode: 0o600 });
  if (flags.tagSources) await tagSources(service, version, flags, workdir, result.manifest);
  if (!flags.json) {
    process.stdout.write(`${publishedLine(published)}${job !== undefined ? '' : `build log: ${result.logPath}\n`}`);
  }
  let desired: DesiredRevision | undefined;
  if (flags.setDesired) {
    desired = await clientFor(flags).request<DesiredRevision>(
      'PATCH',
      `/api/v1/environments/${enc(flags.setDesired)}/desired`,
      { set: { [service]: version }, comment: `flotilla build ${service} ${version}` },
    );
    if (!flags.json) {
      process.stdout.write(`desired in ${desired.environment}: ${service}=${version} (revision ${desired.revision})\n`);
    }
  }
  if (flags.json)
    printResult({ version: published, buildLog: result.logPath, ...(desired ? { desired } : {}) }, { json: true });
}

export function registerBuildCommand(program: Command): void {
  withApiOptions(
    program
      .command('build <service> [version]')
      .description(
        'build a version from git sources by their update.json and publish it (default version: next patch); on the server unless --local',
      ),
  )
    .option('--local', 'build on this machine instead of queueing the build on the server')
    .addOption(
      new Option(
        '--source <name=url>',
        'a git repository: name=<git url>[#branch|tag|commit][:subdir], the first holds update.json (repeatable)',
      )
        .argParser((text: string, previous: SourceSpec[]) => [...previous, parseSource(text)])
        .default([]),
    )
    .addOption(
      new Option('--macro <name=value>', 'a %%name%% value for the build commands and install section (repeatable)')
        .argParser(macroOption('the build and the agent'))
        .default({}),
    )
    .addOption(
      new Option('--submodules <name>', "check out this source's git submodules too, recursively (repeatable)")
        .argParser((text: string, previous: string[]) => [...previous, text])
        .default([]),
    )
    .option('--set-desired <env>', 'make the new version desired in this environment')
    .option('--tag-sources', "once published, tag each source's built commit <service>-<version> and push the tag")
    .addOption(
      new Option(
        '--private-file <path>',
        'a private file stored on the server for the service, added to the version; with --local, <path>=<local file> (repeatable)',
      )
        .argParser((text: string, previous: string[]) => [...previous, text])
        .default([]),
    )
    .option('--detach', 'queue the build on the server, print its id and return without following it')
    .addOption(new Option('--server-job <dir>', 'run as a build job of the server, in <dir>').hideHelp())
    .option(
      '--workdir <dir>',
      'where sources, the build directory and logs are kept (default: ~/.cache/flotilla/builds/<service>)',
    )
    .addOption(
      new Option('--command-timeout <sec>', 'time limit of each build command')
        .argParser((text: string) => wholeNumber('--command-timeout', text, 1, 7 * 24 * 3600))
        .default(defaultCommandTimeoutSec),
    )
    .option('--notes <text>', 'release notes')
    .addHelpText(
      'after',
      examples([
        'flotilla build web --source app=https://git.example.com/web.git#main --private-file conf/license.key',
        'flotilla build web --local --source app=https://git.example.com/web.git#main',
        'flotilla build web 2.0.0 --local --source app=git@git.example.com:web.git#v2.0.0 --source lib=https://git.example.com/lib.git#main:pkg/lib',
        'flotilla build web --local --source app=https://git.example.com/web.git --macro edition=pro --set-desired test',
      ]),
    )
    .action(build);
}
