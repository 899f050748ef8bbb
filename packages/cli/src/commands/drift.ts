import type { DriftItem, DriftSubjectDetail } from '@flotilla/protocol';
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { ApiClient } from '../api-client.ts';
import { type ApiFlags, clientFor, countOption, withApiOptions } from '../command-helpers.ts';
import { examples } from '../help.ts';
import { formatTable, formatTime, printResult } from '../output.ts';
import type { ApplyFlags } from './drift-apply.ts';
import { printSubject } from './drift-show.ts';

export type { DriftItem } from '@flotilla/protocol';

export interface DriftFilters {
  environment?: string;
  place?: string;
  subject?: string;
  /** `key:value`; every one must match. */
  tag?: string[];
  behind?: string;
}

/** The server's largest page, and the most rows one listing follows the cursor for. */
export const pageSize = 500;
export const maxRows = 10_000;
export const behindChoices = ['patch', 'minor', 'major', 'current', 'unknown'];

/** `1.7.0 (3), 1.8.0 (1)`: each running version with its resource count. */
export function describeVersions(versions: Array<{ runningVersion: string; resourceCount: number }>): string {
  if (versions.length === 0) return '(none)';
  return versions.map((v) => `${v.runningVersion || '(empty)'} (${v.resourceCount})`).join(', ');
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** `minor (2 minors, 1 patch)`, `current`, or why there is no comparison yet. */
export function describeBehind(
  d: Pick<DriftItem, 'behind' | 'majorsBehind' | 'minorsBehind' | 'patchesBehind' | 'error' | 'resolveError'>,
): string {
  if (d.error) return 'tracker error';
  if (d.behind === null) return d.resolveError ? 'not compared' : 'pending';
  if (d.behind === 'none') return 'current';
  if (d.behind === 'unknown') return 'unknown';
  const counts = [
    [d.majorsBehind, 'major'],
    [d.minorsBehind, 'minor'],
    [d.patchesBehind, 'patch'],
  ] as const;
  const parts = counts.filter(([n]) => (n ?? 0) > 0).map(([n, w]) => plural(n as number, w));
  return parts.length > 0 ? `${d.behind} (${parts.join(', ')})` : d.behind;
}

/** Follows `next` until `limit` rows; `cut` says more rows matched than were fetched. */
export async function fetchDrift(
  client: ApiClient,
  filters: DriftFilters,
  limit: number,
  size = pageSize,
): Promise<{ items: DriftItem[]; cut: boolean }> {
  const items: DriftItem[] = [];
  let after: string | null = null;
  // Each page adds at least one row, so the loop ends by `limit`; the page bound guards against a bad server.
  for (let page = 0; page <= limit; page++) {
    const q = new URLSearchParams({ limit: String(Math.min(size, limit - items.length)) });
    for (const [k, v] of Object.entries(filters)) {
      if (Array.isArray(v)) for (const one of v) q.append(k, one);
      else if (v) q.set(k, v);
    }
    if (after) q.set('after', after);
    const res: { items: DriftItem[]; next: string | null } = await client.request('GET', `/api/v1/drift?${q}`);
    items.push(...res.items);
    after = res.next;
    if (!after || res.items.length === 0) return { items, cut: false };
    if (items.length >= limit) return { items: items.slice(0, limit), cut: true };
  }
  return { items, cut: true };
}

const columns = ['subject', 'place', 'environment', 'versions', 'latest', 'behind', 'reported', 'stale'];
const row = (d: DriftItem) => ({
  subject: d.subject,
  place: d.place,
  environment: d.environment,
  versions: describeVersions(d.versions),
  latest: d.latest ?? '',
  behind: describeBehind(d),
  reported: formatTime(d.reportedAt),
  stale: d.staleSince ? `since ${formatTime(d.staleSince)}` : '',
});

type ListFlags = ApiFlags & DriftFilters & { agent?: string; limit: number };

async function list(flags: ListFlags) {
  if (flags.agent && flags.place && flags.agent !== flags.place)
    throw new InvalidArgumentError('--agent and --place name the same thing; give one');
  const { environment, subject, tag, behind } = flags;
  const filters = { environment, place: flags.place ?? flags.agent, subject, tag, behind };
  const { items, cut } = await fetchDrift(clientFor(flags), filters, flags.limit);
  if (flags.json) printResult(items, { json: true });
  else process.stdout.write(formatTable(items.map(row), columns, 'no reported subjects'));
  if (cut) {
    process.stderr.write(
      `showing the first ${items.length} rows; more match: raise --limit (at most ${maxRows}) or filter with --environment, --place, --subject, --tag or --behind\n`,
    );
  }
}

// The version is an argument: `--version` after a subcommand is the program's own (print the version).
// `drift` takes the same options, and Commander gives them to it wherever they stand: merge both.
async function where(subject: string, version: string | undefined, _flags: ApiFlags, cmd: Command) {
  const flags = cmd.optsWithGlobals<ApiFlags>();
  const q = new URLSearchParams({ subject });
  if (version) q.set('version', version);
  const { items } = await clientFor(flags).request<{ items: DriftItem[] }>('GET', `/api/v1/drift/where?${q}`);
  const what = version ? `${subject} ${version}` : subject;
  printResult(items, {
    json: flags.json,
    rows: items.map(row),
    columns: columns.slice(1),
    empty: `no place reports running ${what}`,
  });
}

async function show(subject: string, _flags: ApiFlags, cmd: Command) {
  const flags = cmd.optsWithGlobals<ApiFlags>();
  const path = `/api/v1/drift/subjects/${encodeURIComponent(subject)}`;
  const detail = await clientFor(flags).request<DriftSubjectDetail>('GET', path);
  if (flags.json) printResult(detail, { json: true });
  else process.stdout.write(printSubject(detail));
}

const collect = (value: string, previous: string[] = []) => {
  if (value.indexOf(':') < 1) throw new InvalidArgumentError(`"${value}" is not key:value`);
  return [...previous, value];
};

export function registerDriftCommands(program: Command): void {
  const drift = withApiOptions(
    program
      .command('drift')
      .description('which versions of each reported subject run where, and how far behind upstream they are'),
  )
    .option('--environment <name>', 'only this environment')
    .option('--place <id>', 'only this place (the reporting agent: a cluster or host)')
    .option('--agent <id>', 'the same as --place (Opvic calls places agents)')
    .option('--subject <id>', 'only this subject (a tracker name)')
    .option('--tag <key:value>', 'only places with this tag (repeat: all must match)', collect)
    .addOption(
      new Option('--behind <how-far>', 'at least this far behind (patch, minor, major), current or unknown').choices(
        behindChoices,
      ),
    )
    .addOption(countOption('--limit <n>', `rows shown, following every page (at most ${maxRows})`, maxRows, maxRows))
    .addHelpText(
      'after',
      examples([
        'flotilla drift',
        'flotilla drift --environment production --behind minor',
        'flotilla drift --tag region:eu --subject coredns',
        'flotilla drift show coredns                      # every place, its versions and the newer releases',
        'flotilla drift where coredns 1.7.0               # the places still running 1.7.0',
        'flotilla drift apply -f trackers.yaml --env production',
        'flotilla drift upstreams',
      ]),
    )
    .action(list);

  withApiOptions(drift.command('where').description('the places running a subject, with the versions they run'))
    .argument('<subject>', 'the subject (a tracker name)')
    .argument('[version]', 'only places running this version')
    .addHelpText('after', examples(['flotilla drift where coredns', 'flotilla drift where coredns 1.7.0 --json']))
    .action(where);

  withApiOptions(
    drift
      .command('show')
      .description(
        'a subject everywhere: running versions, latest, how far behind, newer releases with dates and links',
      ),
  )
    .argument('<subject>', 'the subject (a tracker name)')
    .addHelpText('after', examples(['flotilla drift show coredns', 'flotilla drift show coredns --json']))
    .action(show);

  registerLazySubcommands(drift);
}

// Implemented in their own files and imported only when run, so `flotilla drift` loads none of them.
function registerLazySubcommands(drift: Command): void {
  withApiOptions(
    drift.command('upstreams').description('upstream release lists: subjects compared, latest, age, last error, quota'),
  )
    .addHelpText('after', examples(['flotilla drift upstreams', 'flotilla drift upstreams --json']))
    .action(async (_flags: ApiFlags, cmd: Command) => {
      const { runDriftUpstreams } = await import('./drift-upstreams.ts');
      await runDriftUpstreams(cmd.optsWithGlobals<ApiFlags>());
    });

  withApiOptions(
    drift
      .command('apply')
      .description('apply host trackers (Command, File, Package) to an environment, like kubectl apply'),
  )
    .requiredOption('-f, --file <file>', 'multi-document YAML or JSON of VersionTracker documents; - for stdin')
    .requiredOption('--env <environment>', 'the environment whose agents run them')
    .option('--prune', "also remove the environment's trackers not in the file")
    .addHelpText(
      'after',
      examples([
        'flotilla drift apply -f trackers.yaml --env production',
        'flotilla drift apply -f trackers.yaml --env production --prune   # the file is the whole set',
        'cat trackers.yaml | flotilla drift apply -f - --env staging',
      ]),
    )
    .action(async (_flags: ApplyFlags, cmd: Command) => {
      const { runDriftApply } = await import('./drift-apply.ts');
      await runDriftApply(cmd.optsWithGlobals<ApplyFlags>());
    });

  withApiOptions(drift.command('trackers').description("an environment's host trackers"))
    .requiredOption('--env <environment>', 'the environment')
    .addHelpText('after', examples(['flotilla drift trackers --env production']))
    .action(async (_flags: ApiFlags & { env: string }, cmd: Command) => {
      const { runDriftTrackers } = await import('./drift-apply.ts');
      await runDriftTrackers(cmd.optsWithGlobals<ApiFlags & { env: string }>());
    });
}
