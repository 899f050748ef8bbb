import type {
  DesiredDiff,
  DesiredHistory,
  DesiredRevision,
  Environment,
  EnvironmentList,
  InstanceList,
  MarkTestedResponse,
} from '@flotilla/protocol';
import type { Command } from 'commander';
import { CliError } from '../api-client.ts';
import { type ApiFlags, clientFor, countOption, withApiOptions } from '../command-helpers.ts';
import { examples } from '../help.ts';
import { formatTable, formatTime, printResult } from '../output.ts';
import { registerIdentityCommands } from './identities.ts';

const env = (name: string) => `/api/v1/environments/${encodeURIComponent(name)}`;

function revisionNumber(text: string): number {
  if (!/^\d+$/.test(text)) throw new CliError(`"${text}" is not a revision number`, 2);
  return Number(text);
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `service=version` pairs into `{ service: version }`. */
export function parseAssignments(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at < 1 || at === pair.length - 1) throw new CliError(`"${pair}" is not <service>=<version>`, 2);
    out[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return out;
}

/** The lines people read: `+ added`, `- removed`, `~ changed from → to`. */
export function formatDiff(diff: Pick<DesiredDiff, 'added' | 'removed' | 'changed'>): string {
  const lines = [
    ...diff.added.map((a) => `+ ${a.service} ${a.version}`),
    ...diff.removed.map((r) => `- ${r.service} ${r.version}`),
    ...diff.changed.map((c) => `~ ${c.service} ${c.from} → ${c.to}`),
  ];
  return lines.length === 0 ? '(no changes)\n' : `${lines.join('\n')}\n`;
}

function printRevision(rev: DesiredRevision, flags: ApiFlags): void {
  if (flags.json) {
    printResult(rev, { json: true });
    return;
  }
  const comment = rev.comment ? `: ${rev.comment}` : '';
  process.stdout.write(
    `${rev.environment} revision ${rev.revision} by ${rev.author} at ${formatTime(rev.createdAt)}${comment}\n`,
  );
  const rows = Object.entries(rev.versions).map(([service, version]) => ({ service, version }));
  process.stdout.write(formatTable(rows, ['service', 'version'], '(no services)'));
}

export function registerDesiredCommands(program: Command): void {
  const envCmd = program.command('env').description('environments: where a desired-version list applies');
  withApiOptions(
    envCmd
      .command('create <name>')
      .description('create an environment')
      .option('--requires-tested-in <env>', 'only take versions marked tested in this environment')
      .addHelpText(
        'after',
        examples(['flotilla env create test', 'flotilla env create production --requires-tested-in test']),
      ),
  ).action(async (name: string, flags: ApiFlags & { requiresTestedIn?: string }) => {
    const created = await clientFor(flags).request<Environment>('POST', '/api/v1/environments', {
      name,
      ...(flags.requiresTestedIn ? { requiresTestedIn: flags.requiresTestedIn } : {}),
    });
    if (flags.json) return printResult(created, { json: true });
    const gate = created.requiresTestedIn ? ` (requires versions tested in ${created.requiresTestedIn})` : '';
    process.stdout.write(`created environment ${created.name}${gate}\n`);
  });
  withApiOptions(envCmd.command('list').description('list environments')).action(async (flags: ApiFlags) => {
    const { environments } = await clientFor(flags).request<EnvironmentList>('GET', '/api/v1/environments');
    printResult(
      { environments },
      {
        json: flags.json,
        columns: ['name', 'revision', 'requiresTestedIn', 'created'],
        rows: environments.map((e) => ({ ...e, created: formatTime(e.createdAt) })),
        empty: 'no environments yet: flotilla env create <name>',
      },
    );
  });

  const desired = program.command('desired').description('desired-version lists of environments');
  withApiOptions(
    desired
      .command('show <env>')
      .description('show the current desired list (or an old revision)')
      .option('--revision <n>', 'an old revision'),
  ).action(async (name: string, flags: ApiFlags & { revision?: string }) => {
    const q = flags.revision === undefined ? '' : `?revision=${revisionNumber(flags.revision)}`;
    printRevision(await clientFor(flags).request<DesiredRevision>('GET', `${env(name)}/desired${q}`), flags);
  });
  withApiOptions(
    desired
      .command('set <env> [assignments...]')
      .description('change the desired list in one revision: <service>=<version>... and --remove <service>')
      .option('--remove <service>', 'drop a service from the list (repeatable)', collect, [])
      .option('--comment <text>', 'why')
      .option('--expect-revision <n>', 'refuse unless the list is still at this revision')
      .addHelpText(
        'after',
        examples([
          'flotilla desired set test web=1.0.0 api=2.1.0 --comment "first deploy"',
          'flotilla desired set test --remove api',
          'flotilla desired set production web=1.0.0 --expect-revision 4',
        ]),
      ),
  ).action(
    async (
      name: string,
      assignments: string[],
      flags: ApiFlags & { remove: string[]; comment?: string; expectRevision?: string },
    ) => {
      const set = parseAssignments(assignments);
      if (Object.keys(set).length === 0 && flags.remove.length === 0) {
        throw new CliError('give <service>=<version> and/or --remove <service>', 2);
      }
      const rev = await clientFor(flags).request<DesiredRevision>('PATCH', `${env(name)}/desired`, {
        ...(Object.keys(set).length > 0 ? { set } : {}),
        ...(flags.remove.length > 0 ? { remove: flags.remove } : {}),
        ...(flags.comment ? { comment: flags.comment } : {}),
        ...(flags.expectRevision !== undefined ? { expectedRevision: revisionNumber(flags.expectRevision) } : {}),
      });
      printRevision(rev, flags);
    },
  );
  withApiOptions(
    desired
      .command('history <env>')
      .description('revisions of the desired list, newest first')
      .addOption(countOption('--limit <n>', 'how many', 20)),
  ).action(async (name: string, flags: ApiFlags & { limit: number }) => {
    const history = await clientFor(flags).request<DesiredHistory>(
      'GET',
      `${env(name)}/desired/history?limit=${flags.limit}`,
    );
    printResult(history, {
      json: flags.json,
      columns: ['revision', 'author', 'time', 'services', 'comment'],
      rows: history.revisions.map((r) => ({
        revision: r.revision,
        author: r.author,
        time: formatTime(r.createdAt),
        services: Object.keys(r.versions).length,
        comment: r.comment ?? '',
      })),
    });
  });
  withApiOptions(
    desired
      .command('diff <env> <from> [to]')
      .description('what changed from one revision to another (default: to the current one)'),
  ).action(async (name: string, from: string, to: string | undefined, flags: ApiFlags) => {
    const q = `from=${revisionNumber(from)}${to === undefined ? '' : `&to=${revisionNumber(to)}`}`;
    const diff = await clientFor(flags).request<DesiredDiff>('GET', `${env(name)}/desired/diff?${q}`);
    if (flags.json) return printResult(diff, { json: true });
    process.stdout.write(`${name}: revision ${diff.from} → ${diff.to}\n${formatDiff(diff)}`);
  });
  withApiOptions(
    desired
      .command('rollback <env> <revision>')
      .description("make an old revision's list current again (as a new revision)")
      .option('--comment <text>', 'why')
      .option('--abort-rollout', "abort the environment's active rollout in the same step (refused without it)"),
  ).action(async (name: string, revision: string, flags: ApiFlags & { comment?: string; abortRollout?: boolean }) => {
    const rev = await clientFor(flags).request<DesiredRevision>('POST', `${env(name)}/desired/rollback`, {
      revision: revisionNumber(revision),
      ...(flags.comment ? { comment: flags.comment } : {}),
      ...(flags.abortRollout ? { abortRollout: true } : {}),
    });
    printRevision(rev, flags);
  });
  withApiOptions(
    desired
      .command('mark-tested <env> [revision]')
      .description('mark every service@version of a revision (default: the current one) as tested in <env>'),
  ).action(async (name: string, revision: string | undefined, flags: ApiFlags) => {
    const res = await clientFor(flags).request<MarkTestedResponse>(
      'POST',
      `${env(name)}/desired/mark-tested`,
      revision === undefined ? {} : { revision: revisionNumber(revision) },
    );
    if (flags.json) return printResult(res, { json: true });
    const list = res.marked.map((m) => `${m.service}@${m.version}`).join(', ');
    process.stdout.write(`marked tested in ${res.environment} (revision ${res.revision}): ${list}\n`);
  });

  const instance = program.command('instance').description('instances that report to the server');
  withApiOptions(
    instance
      .command('list')
      .description('list instances with their services')
      .option('--env <env>', 'only this environment')
      .option('--service <service>', 'only instances running this service')
      .option('--label <key=value>', 'only instances with this label')
      .option('--stale', 'only instances not seen recently')
      .addOption(countOption('--limit <n>', 'at most this many', 100)),
  ).action(
    async (flags: ApiFlags & { env?: string; service?: string; label?: string; stale?: boolean; limit: number }) => {
      const q = new URLSearchParams({ limit: String(flags.limit) });
      if (flags.env) q.set('environment', flags.env);
      if (flags.service) q.set('service', flags.service);
      if (flags.label) q.set('label', flags.label);
      if (flags.stale) q.set('stale', 'true');
      const list = await clientFor(flags).request<InstanceList>('GET', `/api/v1/instances?${q}`);
      printResult(list, {
        json: flags.json,
        columns: ['instance', 'environment', 'lastSeen', 'stale', 'services'],
        empty: 'no instances match',
        rows: list.instances.map((i) => ({
          instance: i.instanceId,
          environment: i.environment,
          lastSeen: formatTime(i.lastSeenAt),
          stale: i.stale ? 'yes' : '',
          services: i.services
            .map((s) => `${s.service}@${s.version ?? '?'}${s.state && s.state !== 'running' ? ` (${s.state})` : ''}`)
            .join(' '),
        })),
      });
    },
  );
  registerIdentityCommands(instance);
}
