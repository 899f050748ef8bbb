// Builds on the server: `flotilla build` without --local queues a job and follows its log;
// `flotilla builds list|show|log|cancel` look after the queue.
import type { BuildCreate, BuildJob, BuildList, BuildSource } from '@flotilla/protocol';
import type { Command } from 'commander';
import { apiError, CliError, resolveLogin, unreachable } from '../api-client.ts';
import type { SourceSpec } from '../build/git.ts';
import { type ApiFlags, clientFor, countOption, wholeNumber, withApiOptions } from '../command-helpers.ts';
import { eventFrames, openEventStream } from '../event-stream.ts';
import { examples } from '../help.ts';
import { formatTable, formatTime, printResult, shorten } from '../output.ts';

const enc = encodeURIComponent;
const finished = new Set(['succeeded', 'failed', 'cancelled']);

export interface QueueFlags extends ApiFlags {
  source: SourceSpec[];
  macro: Record<string, string>;
  privateFile: string[];
  setDesired?: string;
  tagSources?: boolean;
  detach?: boolean;
}

/** A parsed `--source` or `--settings` as the API takes it. */
export function asBuildSource(s: SourceSpec): BuildSource {
  return {
    name: s.name,
    url: s.url,
    ref: s.ref,
    ...(s.subdir !== undefined ? { subdir: s.subdir } : {}),
    ...(s.submodules ? { submodules: true } : {}),
  };
}

const jobId = (text: string) => wholeNumber('build id', text, 1);

/**
 * Prints the log from `offset` as it grows until the job ends (to stdout, or nowhere); returns the
 * ended job. A stream cut short is opened again where it stopped.
 */
async function followLog(id: number, flags: ApiFlags, print: boolean): Promise<BuildJob> {
  let offset = 0;
  for (let attempt = 0; attempt < 5; attempt++) {
    const reader = await openEventStream(flags, `/api/v1/builds/${id}/log?follow=1&offset=${offset}`);
    try {
      for await (const frame of eventFrames(reader)) {
        if (frame.event === 'log') {
          const text = JSON.parse(frame.data) as string;
          offset += Buffer.byteLength(text);
          if (print) process.stdout.write(text);
        } else if (frame.event === 'end') {
          const job = JSON.parse(frame.data) as BuildJob | null;
          if (job) return job;
          throw new CliError(`build ${id} is gone`);
        }
      }
    } catch (err) {
      if (err instanceof CliError) throw err;
    }
    await new Promise((r) => setTimeout(r, 500 * (attempt + 1)));
  }
  throw new CliError(`the server ended the log stream of build ${id} before the build ended`);
}

/** Exits 0 only for a succeeded job, printing what it published. */
function reportEnd(job: BuildJob, flags: ApiFlags): void {
  if (flags.json) printResult(job, { json: true });
  if (job.state === 'succeeded') {
    if (!flags.json) process.stdout.write(`build ${job.id} succeeded: published ${job.service} ${job.resultVersion}\n`);
    return;
  }
  throw new CliError(`build ${job.id} ${job.state}${job.error ? `: ${job.error}` : ''}`);
}

export async function queueBuild(service: string, version: string | undefined, flags: QueueFlags): Promise<void> {
  const body: BuildCreate = {
    sources: flags.source.map(asBuildSource),
    ...(version !== undefined ? { version } : {}),
    ...(Object.keys(flags.macro).length > 0 ? { macros: flags.macro } : {}),
    ...(flags.privateFile.length > 0 ? { privateFiles: flags.privateFile } : {}),
    ...(flags.setDesired ? { setDesired: flags.setDesired } : {}),
    ...(flags.tagSources ? { tagSources: true } : {}),
  };
  await queueJob(`/api/v1/services/${enc(service)}/builds`, body, flags);
}

/** Queues a job on the server and follows its log to its end, unless `--detach`. */
export async function queueJob(path: string, body: unknown, flags: ApiFlags & { detach?: boolean }): Promise<void> {
  const job = await clientFor(flags).request<BuildJob>('POST', path, body);
  if (flags.detach) {
    if (flags.json) printResult(job, { json: true });
    else process.stdout.write(`build ${job.id} queued; follow it with: flotilla builds log ${job.id} --follow\n`);
    return;
  }
  if (!flags.json)
    process.stderr.write(`build ${job.id} queued on the server; Ctrl-C stops following, not the build\n`);
  reportEnd(await followLog(job.id, flags, !flags.json), flags);
}

async function list(flags: ApiFlags & { service?: string; state?: string; limit: number }): Promise<void> {
  const q = new URLSearchParams({ limit: String(flags.limit) });
  if (flags.service) q.set('service', flags.service);
  if (flags.state) q.set('state', flags.state);
  const { builds } = await clientFor(flags).request<BuildList>('GET', `/api/v1/builds?${q}`);
  if (flags.json) return printResult({ builds }, { json: true });
  const rows = builds.map((b) => ({
    id: b.id,
    service: b.service,
    kind: b.kind === 'client' ? `client of ${b.from}${b.consumer ? ` for ${b.consumer}` : ''}` : 'version',
    version: b.resultVersion ?? b.version ?? '(next)',
    state: b.state,
    requestedBy: b.requestedBy,
    created: formatTime(b.createdAt),
    error: shorten(b.error),
  }));
  process.stdout.write(
    formatTable(rows, ['id', 'service', 'kind', 'version', 'state', 'requestedBy', 'created', 'error'], '(no builds)'),
  );
}

async function show(id: number, flags: ApiFlags): Promise<void> {
  const job = await clientFor(flags).request<BuildJob>('GET', `/api/v1/builds/${id}`);
  printResult(job, { json: flags.json });
}

async function log(id: number, flags: ApiFlags & { follow?: boolean }): Promise<void> {
  if (flags.follow) {
    const job = await followLog(id, flags, true);
    if (!finished.has(job.state)) throw new CliError(`build ${id} is ${job.state}`);
    return;
  }
  const login = resolveLogin(flags);
  const path = `/api/v1/builds/${id}/log`;
  const res = await fetch(`${login.server}${path}`, { headers: { authorization: `Bearer ${login.token}` } }).catch(
    (err: unknown) => {
      throw unreachable(login.server, err);
    },
  );
  if (!res.ok || !res.body) throw apiError('GET', path, res.status, res.statusText, await res.text());
  for await (const chunk of res.body) process.stdout.write(chunk);
}

async function cancel(id: number, flags: ApiFlags): Promise<void> {
  const job = await clientFor(flags).request<BuildJob>('POST', `/api/v1/builds/${id}/cancel`);
  if (flags.json) return printResult(job, { json: true });
  process.stdout.write(
    `build ${job.id}: ${job.state}${job.resultVersion ? ` (published ${job.resultVersion})` : ''}\n`,
  );
}

export function registerBuildsCommands(program: Command): void {
  const builds = program
    .command('builds')
    .description('builds queued on the server: list them, read or follow their logs, cancel them');
  withApiOptions(builds.command('list').description('build jobs, newest first'))
    .option('--service <name>', 'only this service')
    .option('--state <state>', 'only jobs in this state (queued, running, succeeded, failed, cancelled)')
    .addOption(countOption('--limit <n>', 'how many (default 50, at most 200)', 50, 200))
    .action(list);
  withApiOptions(builds.command('show <id>').description('one build job')).action((id: string, flags: ApiFlags) =>
    show(jobId(id), flags),
  );
  withApiOptions(builds.command('log <id>').description("a build's log (the builder's output)"))
    .option('--follow', 'print the log as it grows until the build ends')
    .action((id: string, flags: ApiFlags & { follow?: boolean }) => log(jobId(id), flags));
  withApiOptions(
    builds
      .command('cancel <id>')
      .description("cancel a build: a queued one is dropped, a running one's builder is stopped"),
  )
    .addHelpText(
      'after',
      examples(['flotilla builds list --service web', 'flotilla builds log 12 --follow', 'flotilla builds cancel 12']),
    )
    .action((id: string, flags: ApiFlags) => cancel(jobId(id), flags));
}
