// `flotilla client-version`: client versions made from a developer version with a client's settings
// repositories and macros, published as `<name>+client` (see docs/client-versions.md).
import { rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  type ClientBuildCreate,
  clientVersionSuffix,
  type DesiredRevision,
  type VersionDetail,
  type VersionSummary,
} from '@flotilla/protocol';
import { type Command, Option } from 'commander';
import { CliError } from '../api-client.ts';
import type { ClientBuildResult } from '../build/client-build.ts';
import { type GitOptions, parseSource, type SourceSpec } from '../build/git.ts';
import { BuildInputError } from '../build/macros.ts';
import { BuildStepError } from '../build/step-error.ts';
import { type ApiFlags, clientFor, withApiOptions } from '../command-helpers.ts';
import { examples } from '../help.ts';
import { formatTable, formatTime, printResult } from '../output.ts';
import { cliVersion } from '../program-base.ts';
import { asBuildSource, queueJob } from './builds.ts';
import { downloadVerified, listAllVersions, publishedLine } from './catalog.ts';
import { clientVersionId, latestFrom, nextGeneration, publishClientVersion } from './client-publish.ts';
import { macroOption } from './macro-option.ts';

const enc = encodeURIComponent;
const gitTimeoutMs: GitOptions['timeoutMs'] = 600_000;

interface ClientBuildFlags extends ApiFlags {
  local?: boolean;
  detach?: boolean;
  /** Hidden: the server runs this build as job `<dir>` (work/, private/, result.json). */
  serverJob?: string;
  /** Hidden: the server builds it for this consumer server, which alone is offered it. */
  forConsumer?: string;
  from: string;
  settings: SourceSpec[];
  macro: Record<string, string>;
  privateFile: string[];
  setDesired?: string;
  workdir?: string;
  notes?: string;
}

function parseSettings(text: string, previous: SourceSpec[]): SourceSpec[] {
  try {
    return [...previous, parseSource(text)];
  } catch (err) {
    throw new CliError((err as Error).message.replace(/^--source/, '--settings'), 2);
  }
}

function defaultWorkdir(service: string): string {
  const cache = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(cache, 'flotilla', 'client-builds', service);
}

function queueOnServer(service: string, flags: ClientBuildFlags): Promise<void> {
  if (flags.workdir !== undefined) throw new CliError('--workdir is for --local builds; the server keeps its own', 2);
  const body: ClientBuildCreate = {
    from: flags.from,
    settings: flags.settings.map(asBuildSource),
    ...(Object.keys(flags.macro).length > 0 ? { macros: flags.macro } : {}),
    ...(flags.privateFile.length > 0 ? { privateFiles: flags.privateFile } : {}),
    ...(flags.setDesired ? { setDesired: flags.setDesired } : {}),
  };
  return queueJob(`/api/v1/services/${enc(service)}/client-builds`, body, flags);
}

async function build(service: string, flags: ClientBuildFlags): Promise<void> {
  if (flags.from.endsWith(clientVersionSuffix)) {
    throw new CliError(`--from ${flags.from}: a client version is made from a developer version`, 2);
  }
  const job = flags.serverJob !== undefined ? resolve(flags.serverJob) : undefined;
  if (!flags.local && job === undefined) return queueOnServer(service, flags);
  const { parseLocalPrivateFiles, stageForLocalBuild } = await import('../build/local-private-files.ts');
  const localPrivate = job === undefined ? parseLocalPrivateFiles(flags.privateFile) : [];
  if (flags.detach) throw new CliError('--detach is for builds on the server (without --local)', 2);
  const client = clientFor(flags);
  const developer = await client.request<VersionDetail>(
    'GET',
    `/api/v1/services/${enc(service)}/versions/${enc(flags.from)}`,
  );
  const workdir = job !== undefined ? join(job, 'work') : resolve(flags.workdir ?? defaultWorkdir(service));
  const staged = stageForLocalBuild(localPrivate);
  const privateFilesDir = job !== undefined ? join(job, 'private') : staged?.dir;
  const consumer = flags.forConsumer ?? null;
  const { BuildLog } = await import('../build/build-log.ts');
  const { clientInputs, fetchSettings, privateFileDigests, runClientBuild } = await import('../build/client-build.ts');
  const { lockWorkdir } = await import('../build/workdir-lock.ts');
  const { killActiveProcesses } = await import('../build/run-process.ts');
  // git runs in process groups of its own, which a signal to this one does not reach.
  for (const [signal, code] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const) {
    process.once(signal, () => {
      killActiveProcesses();
      process.exit(code);
    });
  }
  const echo = flags.json ? undefined : (text: string) => process.stderr.write(text);
  const startedAt = new Date().toISOString();
  const builder = `flotilla client-version build ${cliVersion}${job !== undefined ? ' (on the server)' : ''}`;
  let unlock: (() => void) | undefined;
  let log: InstanceType<typeof BuildLog> | undefined;
  let result: ClientBuildResult | undefined;
  let reused: VersionSummary | undefined;
  let version = '';
  let inputs = '';
  let generation = 0;
  try {
    unlock = lockWorkdir(workdir);
    log = new BuildLog(join(workdir, 'logs', `${flags.from}.log`), echo);
    log.line(
      `building a client version of ${service} ${flags.from}${consumer ? ` for ${consumer}` : ''} with ${builder}`,
    );
    const settings = await fetchSettings({
      settings: flags.settings,
      workdir,
      gitTimeoutMs,
      log,
      untrusted: consumer !== null,
    });
    const privateFiles = privateFilesDir !== undefined ? privateFileDigests(privateFilesDir) : [];
    inputs = clientInputs(developer.digest, settings, flags.macro, privateFiles, consumer);
    const all = await listAllVersions(flags, service, 'client');
    const same = latestFrom(all, flags.from, consumer);
    if (same?.client?.inputs === inputs) {
      log.line(`${same.version} has the same inputs; nothing to publish`);
      log.close();
      reused = same;
      version = same.version;
    }
    if (!reused) {
      // Names are one sequence per developer version, whoever the versions were built for.
      generation = nextGeneration(all, flags.from);
      version = clientVersionId(flags.from, generation);
      log.line(`the new client version is ${version}`);
      const artifact = join(workdir, 'developer.tar.gz');
      await downloadVerified(service, flags.from, artifact, { ...flags, json: true });
      result = await runClientBuild({
        developerVersion: flags.from,
        developerDigest: developer.digest,
        developerManifest: developer.manifest,
        artifact,
        settings,
        macros: flags.macro,
        generation,
        inputs,
        workdir,
        builder,
        log,
        startedAt,
        ...(privateFilesDir !== undefined ? { privateFilesDir } : {}),
        ...(consumer !== null ? { consumer } : {}),
      });
    }
  } catch (err) {
    log?.line(`build failed: ${(err as Error).message}`);
    log?.close();
    if (err instanceof BuildStepError || err instanceof BuildInputError) {
      const where = job !== undefined ? '' : `\nbuild log: ${log?.path ?? workdir}`;
      throw new CliError(`client build failed, nothing published: ${err.message}${where}`);
    }
    throw err;
  } finally {
    // Only this build's own download: a work directory in use by another build is left alone.
    if (unlock) rmSync(join(workdir, 'developer.tar.gz'), { force: true });
    unlock?.();
    staged?.remove();
  }
  return afterBuild();

  /** Publishes (unless the same inputs made a version already), then records and sets it desired. */
  async function afterBuild(): Promise<void> {
    let published: VersionDetail | undefined;
    if (!reused) {
      const outcome = await publishClientVersion({
        service,
        developerVersion: flags.from,
        consumer,
        inputs,
        buildDir: (result as ClientBuildResult).buildDir,
        generation,
        flags,
        say: (line) => process.stderr.write(`${line}\n`),
      });
      version = outcome.version;
      if ('same' in outcome) reused = outcome.same;
      else published = outcome.published;
    }
    if (!flags.json) {
      process.stdout.write(
        published
          ? `${publishedLine(published)}${job !== undefined ? '' : `build log: ${log?.path}\n`}`
          : `nothing published: ${service} ${version} was made from the same developer version, settings commits and macros\n`,
      );
    }
    // Recorded before anything else can fail: the version exists from here on.
    if (job !== undefined) writeResult(job, version);
    let desired: DesiredRevision | undefined;
    if (flags.setDesired) {
      desired = await client.request<DesiredRevision>(
        'PATCH',
        `/api/v1/environments/${enc(flags.setDesired)}/desired`,
        { set: { [service]: version }, comment: `flotilla client-version build ${service} ${version}` },
      );
      if (!flags.json) {
        process.stdout.write(
          `desired in ${desired.environment}: ${service}=${version} (revision ${desired.revision})\n`,
        );
      }
    }
    if (flags.json) {
      const what = reused ? { published: null, same: reused } : { published, buildLog: log?.path };
      printResult({ ...what, ...(desired ? { desired } : {}) }, { json: true });
    }
  }
}

/** What the server reads back from a job: the version it ends with. */
function writeResult(job: string, version: string): void {
  writeFileSync(join(job, 'result.json'), JSON.stringify({ version }), { mode: 0o600 });
}

async function list(service: string, flags: ApiFlags & { from?: string }): Promise<void> {
  const versions = (await listAllVersions(flags, service, 'client')).filter(
    (v) => flags.from === undefined || v.client?.developerVersion === flags.from,
  );
  if (flags.json) return printResult({ versions }, { json: true });
  if (versions.length === 0) {
    process.stdout.write(
      `no client versions of ${service} yet: flotilla client-version build ${service} --from <version>\n`,
    );
    return;
  }
  const rows = versions.map((v) => ({
    version: v.version,
    from: v.client?.developerVersion ?? '',
    settings: (v.client?.settings ?? []).map((s) => `${s.name}@${s.commit.slice(0, 12)}`).join(' '),
    created: formatTime(v.createdAt),
    digest: `${v.digest.slice(0, 19)}`,
  }));
  process.stdout.write(formatTable(rows, ['version', 'from', 'settings', 'created', 'digest']));
}

export function registerClientVersionCommands(program: Command): void {
  const cmd = program
    .command('client-version')
    .description('client versions: a developer version with one client’s settings, published as <name>+client');
  withApiOptions(
    cmd
      .command('build <service>')
      .description(
        'make a client version from a developer version and settings repositories, and publish it; on the server unless --local',
      ),
  )
    .requiredOption('--from <version>', 'the developer version to start from')
    .addOption(
      new Option(
        '--settings <name=url>',
        'a settings repository: name=<git url>[#branch|tag|commit][:subdir], applied in order (repeatable)',
      )
        .argParser(parseSettings)
        .default([]),
    )
    .addOption(
      new Option('--macro <name=value>', 'a %%name%% value for every file; a .defines file overrides it (repeatable)')
        .argParser(macroOption('the agent'))
        .default({}),
    )
    .addOption(
      new Option(
        '--private-file <path>',
        'a private file stored on the server for the service, added to the client version; with --local, <path>=<local file> (repeatable)',
      )
        .argParser((text: string, previous: string[]) => [...previous, text])
        .default([]),
    )
    .option('--set-desired <env>', 'make the new client version desired in this environment')
    .option('--local', 'build on this machine instead of queueing the build on the server')
    .option('--detach', 'queue the build on the server, print its id and return without following it')
    .addOption(new Option('--server-job <dir>', 'run as a build job of the server, in <dir>').hideHelp())
    .addOption(new Option('--for-consumer <name>', 'built by the provider for this consumer server').hideHelp())
    .option(
      '--workdir <dir>',
      'with --local: where settings, the build directory and logs are kept (default: ~/.cache/flotilla/client-builds/<service>)',
    )
    .option('--notes <text>', 'release notes')
    .addHelpText(
      'after',
      examples([
        'flotilla client-version build web --from 3.5.1 --settings acme=https://git.example.com/acme-settings.git#main --private-file conf/license.key',
        'flotilla client-version build web --from 3.5.1 --local --settings base=https://git.example.com/settings.git#main:web --settings acme=https://git.example.com/acme.git --macro region=eu --set-desired prod',
      ]),
    )
    .action(build);
  withApiOptions(cmd.command('list <service>').description('list client versions, newest first'))
    .option('--from <version>', 'only those made from this developer version')
    .action(list);
}
