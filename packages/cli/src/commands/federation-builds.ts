// `flotilla federation client-build`: this (consumer) server asks the provider it follows to build a
// client version with its settings; the version then arrives through the feed like any other.
import type { BuildJob, BuildList, ConsumerClientBuildCreate } from '@flotilla/protocol';
import { type Command, Option } from 'commander';
import { apiError, CliError } from '../api-client.ts';
import { parseSource, type SourceSpec } from '../build/git.ts';
import { type ApiFlags, clientFor, wholeNumber, withApiOptions } from '../command-helpers.ts';
import { examples } from '../help.ts';
import { formatTable, formatTime, printResult, shorten } from '../output.ts';
import { asBuildSource } from './builds.ts';
import { rawFetch } from './catalog.ts';
import { macroOption } from './macro-option.ts';

const base = '/api/v1/federation/provider/client-builds';
const finished = new Set(['succeeded', 'failed', 'cancelled']);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface ConsumerBuildFlags extends ApiFlags {
  from: string;
  settings: SourceSpec[];
  macro: Record<string, string>;
  detach?: boolean;
  wait: number;
}

/** Polls the job and its log at the provider (through this server) until it ends; prints the log. */
async function followAtProvider(id: number, flags: ApiFlags, print: boolean): Promise<BuildJob> {
  const client = clientFor(flags);
  let offset = 0;
  for (;;) {
    const job = await client.request<BuildJob>('GET', `${base}/${id}`);
    for (;;) {
      const path = `${base}/${id}/log?offset=${offset}`;
      const res = await rawFetch(flags, path);
      if (!res.ok) throw apiError('GET', path, res.status, res.statusText, await res.text());
      const bytes = Buffer.from(await res.arrayBuffer());
      offset += bytes.length;
      if (print) process.stdout.write(bytes);
      if (bytes.length < 1024 * 1024) break;
    }
    if (finished.has(job.state)) return job;
    await sleep(1000);
  }
}

/** Waits until the feed has brought `version` here; false at the deadline. */
async function waitForArrival(flags: ApiFlags, service: string, version: string, seconds: number): Promise<boolean> {
  const path = `/api/v1/services/${encodeURIComponent(service)}/versions/${encodeURIComponent(version)}`;
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    const res = await rawFetch(flags, path);
    await res.arrayBuffer();
    if (res.ok) return true;
    if (res.status !== 404) throw apiError('GET', path, res.status, res.statusText, '');
    await sleep(500);
  }
  return false;
}

async function clientBuild(service: string, flags: ConsumerBuildFlags): Promise<void> {
  const body: ConsumerClientBuildCreate = {
    service,
    from: flags.from,
    settings: flags.settings.map(asBuildSource),
    ...(Object.keys(flags.macro).length > 0 ? { macros: flags.macro } : {}),
  };
  const queued = await clientFor(flags).request<BuildJob>('POST', base, body);
  if (flags.detach) {
    if (flags.json) return printResult(queued, { json: true });
    process.stdout.write(`build ${queued.id} queued at the provider; see it with: flotilla federation client-builds\n`);
    return;
  }
  if (!flags.json) process.stderr.write(`build ${queued.id} queued at the provider\n`);
  const job = await followAtProvider(queued.id, flags, !flags.json);
  if (job.state !== 'succeeded' || !job.resultVersion) {
    if (flags.json) printResult(job, { json: true });
    throw new CliError(`build ${job.id} at the provider ${job.state}${job.error ? `: ${job.error}` : ''}`);
  }
  const arrived = flags.wait > 0 && (await waitForArrival(flags, service, job.resultVersion, flags.wait));
  if (flags.json) return printResult({ ...job, arrived }, { json: true });
  process.stdout.write(`build ${job.id} at the provider succeeded: ${service} ${job.resultVersion}\n`);
  if (arrived) process.stdout.write(`${service} ${job.resultVersion} is in this server's catalog\n`);
  else if (flags.wait > 0) {
    throw new CliError(
      `${service} ${job.resultVersion} has not arrived within ${flags.wait}s: see flotilla federation status`,
    );
  }
}

async function listAtProvider(flags: ApiFlags): Promise<void> {
  const { builds } = await clientFor(flags).request<BuildList>('GET', base);
  if (flags.json) return printResult({ builds }, { json: true });
  const rows = builds.map((b) => ({
    id: b.id,
    service: b.service,
    from: b.from ?? '',
    version: b.resultVersion ?? '',
    state: b.state,
    created: formatTime(b.createdAt),
    error: shorten(b.error),
  }));
  process.stdout.write(
    formatTable(rows, ['id', 'service', 'from', 'version', 'state', 'created', 'error'], '(no builds at the provider)'),
  );
}

export function registerFederationBuildCommands(federation: Command): void {
  withApiOptions(
    federation
      .command('client-build <service>')
      .description(
        "ask the provider to build a client version of its service with this server's settings repositories; it arrives with the feed",
      ),
  )
    .requiredOption('--from <version>', "the provider's developer version to start from")
    .addOption(
      new Option(
        '--settings <name=url>',
        'a settings repository the provider can reach: name=<git url>[#ref][:subdir], applied in order (repeatable)',
      )
        .argParser((text: string, previous: SourceSpec[]) => {
          try {
            return [...previous, parseSource(text)];
          } catch (err) {
            throw new CliError((err as Error).message.replace(/^--source/, '--settings'), 2);
          }
        })
        .default([]),
    )
    .addOption(
      new Option('--macro <name=value>', 'a %%name%% value for every file (repeatable)')
        .argParser(macroOption('the agent'))
        .default({}),
    )
    .option('--detach', 'queue the build at the provider and return')
    .addOption(
      new Option('--wait <sec>', 'how long to wait for the version to arrive here (0: do not wait)')
        .argParser((text: string) => wholeNumber('--wait', text, 0, 3600))
        .default(120),
    )
    .addHelpText(
      'after',
      examples([
        'flotilla federation client-build web --from 3.5.1 --settings acme=https://git.example.com/acme-settings.git#main',
      ]),
    )
    .action(clientBuild);
  withApiOptions(
    federation.command('client-builds').description("this server's client builds at the provider, newest first"),
  ).action(listAtProvider);
  withApiOptions(
    federation
      .command('client-build-cancel <id>')
      .description(
        'cancel one of this server’s client builds at the provider: queued, it is dropped; running, stopped',
      ),
  ).action(async (id: string, flags: ApiFlags) => {
    const n = wholeNumber('build id', id, 1);
    const job = await clientFor(flags).request<BuildJob>('POST', `${base}/${n}/cancel`);
    if (flags.json) return printResult(job, { json: true });
    process.stdout.write(`build ${job.id} at the provider: ${job.state}\n`);
  });
}
