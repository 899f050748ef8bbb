import type { Command } from 'commander';
import type { ApiClient } from '../api-client.ts';
import { type ApiFlags, clientFor, countOption, withApiOptions } from '../command-helpers.ts';
import { examples } from '../help.ts';
import { formatTable, formatTime, printResult } from '../output.ts';

/** One (environment, place, subject) row as `GET /api/v1/drift` answers it. */
export interface DriftItem {
  environment: string;
  place: string;
  subject: string;
  namespace: string | null;
  tags: Record<string, string>;
  versions: Array<{ runningVersion: string; resourceCount: number; resourceKind?: string; extractedFrom?: string }>;
  upstream: Record<string, unknown> | null;
  reportedAt: string;
  changedAt: string;
  staleSince: string | null;
}

export interface DriftFilters {
  environment?: string;
  place?: string;
  subject?: string;
}

/** The server's largest page, and the most rows one listing follows the cursor for. */
export const pageSize = 500;
export const maxRows = 10_000;

/** `1.7.0 (3), 1.8.0 (1)`: each running version with its resource count. */
export function describeVersions(versions: DriftItem['versions']): string {
  if (versions.length === 0) return '(none)';
  return versions.map((v) => `${v.runningVersion || '(empty)'} (${v.resourceCount})`).join(', ');
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
    for (const [k, v] of Object.entries(filters)) if (v) q.set(k, v);
    if (after) q.set('after', after);
    const res: { items: DriftItem[]; next: string | null } = await client.request('GET', `/api/v1/drift?${q}`);
    items.push(...res.items);
    after = res.next;
    if (!after || res.items.length === 0) return { items, cut: false };
    if (items.length >= limit) return { items: items.slice(0, limit), cut: true };
  }
  return { items, cut: true };
}

const columns = ['subject', 'place', 'environment', 'versions', 'reported', 'stale'];
const row = (d: DriftItem) => ({
  subject: d.subject,
  place: d.place,
  environment: d.environment,
  versions: describeVersions(d.versions),
  reported: formatTime(d.reportedAt),
  stale: d.staleSince ? `since ${formatTime(d.staleSince)}` : '',
});

async function list(flags: ApiFlags & { environment?: string; place?: string; subject?: string; limit: number }) {
  const filters = { environment: flags.environment, place: flags.place, subject: flags.subject };
  const { items, cut } = await fetchDrift(clientFor(flags), filters, flags.limit);
  if (flags.json) printResult(items, { json: true });
  else process.stdout.write(formatTable(items.map(row), columns, 'no reported subjects'));
  if (cut) {
    process.stderr.write(
      `showing the first ${items.length} rows; more match: raise --limit (at most ${maxRows}) or filter with --environment, --place or --subject\n`,
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

export function registerDriftCommands(program: Command): void {
  const drift = withApiOptions(
    program.command('drift').description('which versions of each reported subject run where (environment, place)'),
  )
    .option('--environment <name>', 'only this environment')
    .option('--place <id>', 'only this place (the reporting agent: a cluster or host)')
    .option('--subject <id>', 'only this subject (a tracker name)')
    .addOption(countOption('--limit <n>', `rows shown, following every page (at most ${maxRows})`, maxRows, maxRows))
    .addHelpText(
      'after',
      examples([
        'flotilla drift',
        'flotilla drift --environment production --subject coredns',
        'flotilla drift where coredns 1.7.0               # the places still running 1.7.0',
      ]),
    )
    .action(list);

  withApiOptions(drift.command('where').description('the places running a subject, with the versions they run'))
    .argument('<subject>', 'the subject (a tracker name)')
    .argument('[version]', 'only places running this version')
    .addHelpText('after', examples(['flotilla drift where coredns', 'flotilla drift where coredns 1.7.0 --json']))
    .action(where);
}
