import type { Command } from 'commander';
import { type ApiFlags, clientFor, withApiOptions } from '../command-helpers.ts';
import { examples } from '../help.ts';
import { printResult, shorten } from '../output.ts';

/** One upstream as `GET /api/v1/drift/upstreams` answers it. */
export interface DriftUpstreamStatus {
  key: string;
  provider: string;
  subjects: number;
  versions: number | null;
  latest: string | null;
  fetchedAt: string | null;
  ageSeconds: number | null;
  error: string | null;
  errorAt: string | null;
  failures: number;
  retryAt: string | null;
  rateLimit: { limit?: number; remaining?: number; resetAt?: string } | null;
}

/** `42s`, `17m`, `3h`, `5d`: how old a list is, as people read it. */
export function formatAge(seconds: number | null): string {
  if (seconds === null) return 'never';
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86_400)}d`;
}

export function upstreamRow(u: DriftUpstreamStatus): Record<string, string | number> {
  const quota = u.rateLimit?.remaining;
  return {
    key: u.key,
    provider: u.provider,
    subjects: u.subjects,
    latest: u.latest ?? '',
    age: formatAge(u.ageSeconds),
    error: u.error ? `${u.failures > 1 ? `(${u.failures}x) ` : ''}${shorten(u.error, 60)}` : '',
    quota:
      quota === undefined ? '' : u.rateLimit?.limit !== undefined ? `${quota}/${u.rateLimit.limit}` : String(quota),
  };
}

/** `flotilla drift upstreams`: each upstream the server compares with, how old its list is, and why a fetch failed. */
export async function runDriftUpstreams(flags: ApiFlags): Promise<void> {
  const items = await clientFor(flags).request<DriftUpstreamStatus[]>('GET', '/api/v1/drift/upstreams');
  printResult(items, {
    json: flags.json,
    rows: items.map(upstreamRow),
    columns: ['key', 'provider', 'subjects', 'latest', 'age', 'error', 'quota'],
    empty: 'no upstreams yet: none of the reported subjects names one',
  });
}

/** Adds `upstreams` under `flotilla drift`. */
export function registerDriftUpstreamsCommand(drift: Command): void {
  withApiOptions(
    drift.command('upstreams').description('upstream release lists: subjects compared, latest, age, last error, quota'),
  )
    .addHelpText('after', examples(['flotilla drift upstreams', 'flotilla drift upstreams --json']))
    .action((_flags: ApiFlags, cmd: Command) => runDriftUpstreams(cmd.optsWithGlobals<ApiFlags>()));
}
