import type { MeshEnvironmentList, MeshPairSeries, MeshView } from '@flotilla/protocol';
import type { Command } from 'commander';
import type { ApiClient } from '../api-client.ts';
import { CliError } from '../api-client.ts';
import { type ApiFlags, clientFor, countOption, withApiOptions } from '../command-helpers.ts';
import { examples } from '../help.ts';
import { formatTable, formatTime, printResult } from '../output.ts';

interface FleetFlags extends ApiFlags {
  env?: string;
  window?: string;
  phase?: string;
}

/** Round trips in seconds as people read them: `0.42 ms`, `12.3 ms`, `1.20 s`. */
export function formatRtt(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '';
  if (seconds >= 1) return `${seconds.toFixed(2)} s`;
  const ms = seconds * 1000;
  return ms < 10 ? `${ms.toFixed(2)} ms` : `${ms.toFixed(1)} ms`;
}

const percent = (share: number) => `${(share * 100).toFixed(share > 0 && share < 0.1 ? 1 : 0)}%`;

/**
 * `flotilla mesh` has canary-bot's repeatable `--token`, and commander hands a `--token` typed after
 * `status` or `pairs` to it: taken back here when it came from the command line (not MESH_TOKEN).
 */
function withOwnToken(mesh: Command, flags: FleetFlags): FleetFlags {
  if (flags.token !== undefined || mesh.getOptionValueSource('token') !== 'cli') return flags;
  const given = mesh.getOptionValue('token') as string[] | string | undefined;
  const token = Array.isArray(given) ? given.at(-1) : given;
  return token === undefined ? flags : { ...flags, token };
}

/** The environment given, or the only one with the mesh on. */
async function environmentOf(client: ApiClient, flags: FleetFlags): Promise<string> {
  if (flags.env) return flags.env;
  const { environments } = await client.request<MeshEnvironmentList>('GET', '/api/v1/mesh/environments');
  const on = environments.filter((e) => e.enabled).map((e) => e.environment);
  if (on.length === 1) return on[0] as string;
  if (on.length === 0)
    throw new CliError(
      'the mesh is on in no environment; an admin switches it on with PUT /api/v1/mesh/environments/<environment> {"enabled": true}',
    );
  throw new CliError(`the mesh is on in ${on.join(', ')}: choose one with --env`, 2);
}

function viewPath(environment: string, flags: FleetFlags): string {
  const q = new URLSearchParams({ environment });
  if (flags.window) q.set('window', flags.window);
  if (flags.phase) q.set('phase', flags.phase);
  return `/api/v1/mesh?${q}`;
}

export function describeStatus(view: MeshView): string {
  const counts = new Map<string, number>();
  for (const n of view.nodes) counts.set(n.state, (counts.get(n.state) ?? 0) + 1);
  const states = [...counts].map(([state, n]) => `${n} ${state}`).join(', ');
  const head =
    `${view.environment}: mesh ${view.enabled ? 'on' : 'off'}, ${view.nodes.length} node${view.nodes.length === 1 ? '' : 's'}` +
    `${states ? ` (${states})` : ''}, ${view.partitions.length} partition${view.partitions.length === 1 ? '' : 's'}\n`;
  const rows = view.nodes.map((n) => ({
    instance: n.instance,
    state: n.state,
    address: n.address,
    partition: n.partition >= 0 ? n.partition + 1 : '',
    loopLagP99: formatRtt(n.eventLoopLag?.p99),
    lastSeen: formatTime(n.lastSeenAt),
    flagged: n.flagged ?? '',
  }));
  let out =
    head +
    formatTable(
      rows,
      ['instance', 'state', 'address', 'partition', 'loopLagP99', 'lastSeen', 'flagged'],
      '(no mesh nodes yet)',
    );
  if (view.partitions.length > 1) {
    out += `\nPARTITIONED: ${view.partitions.length} groups of live nodes cannot reach each other\n`;
    out += view.partitions.map((group, i) => `  ${i + 1}: ${group.join(', ')}\n`).join('');
  }
  for (const n of view.nodes) if (n.flagged) out += `flagged: ${n.instance}: ${n.flagged}\n`;
  return out;
}

export function describePairs(view: MeshView, slowest: number): string {
  const rows = view.pairs.slice(0, slowest).map((p) => ({
    from: p.from,
    to: p.to,
    p50: formatRtt(p.p50),
    p99: formatRtt(p.p99),
    loss: percent(p.loss),
    probes: p.count,
  }));
  const head = `${view.environment}: slowest pairs by ${view.phase} p50, ${formatTime(view.from)} to ${formatTime(view.to)}\n`;
  return head + formatTable(rows, ['from', 'to', 'p50', 'p99', 'loss', 'probes'], '(no measurements in the window)');
}

function describeSeries(series: MeshPairSeries): string {
  const rows = series.points.map((p) => ({
    minute: formatTime(p.minute),
    phase: p.phase,
    p50: formatRtt(p.p50),
    p99: formatRtt(p.p99),
    max: formatRtt(p.max),
    loss: percent(p.count > 0 ? p.failed / p.count : 0),
    probes: p.count,
  }));
  return `${series.environment}: ${series.from} → ${series.to}\n${formatTable(rows, ['minute', 'phase', 'p50', 'p99', 'max', 'loss', 'probes'], '(no measurements in the window)')}`;
}

const withViewOptions = (cmd: Command) =>
  withApiOptions(cmd)
    .option('--env <environment>', 'the environment (default: the only one with the mesh on)')
    .option('--window <duration>', 'how far back to summarise (default 15m; at most the server’s retention)')
    .option('--phase <phase>', 'dns, connect, tls or request (default request)');

/** `flotilla mesh status` and `flotilla mesh pairs`: the server's view of an environment's mesh. */
export function registerMeshFleetCommands(mesh: Command): void {
  withViewOptions(
    mesh
      .command('status')
      .description("an environment's mesh as the server sees it: nodes, states, partitions, flagged nodes"),
  )
    .addHelpText('after', examples(['flotilla mesh status --env production', 'flotilla mesh status --json']))
    .action(async (given: FleetFlags) => {
      const flags = withOwnToken(mesh, given);
      const client = clientFor(flags);
      const view = await client.request<MeshView>('GET', viewPath(await environmentOf(client, flags), flags));
      if (flags.json) printResult({ ...view, pairs: undefined, pairsTruncated: undefined }, { json: true });
      else process.stdout.write(describeStatus(view));
    });

  withViewOptions(mesh.command('pairs').description('the slowest pairs of an environment, or one pair’s minutes'))
    .addOption(countOption('--slowest <n>', 'how many pairs, slowest p50 first', 10, 10_000))
    .option('--from <instance>', 'with --to: one pair’s per-minute series instead')
    .option('--to <instance>', 'with --from: the measured peer')
    .addHelpText(
      'after',
      examples([
        'flotilla mesh pairs --slowest 10 --env production',
        'flotilla mesh pairs --env production --from web-01 --to web-02 --window 1h',
      ]),
    )
    .action(async (given: FleetFlags & { slowest: number; from?: string; to?: string }) => {
      const flags = { ...given, ...withOwnToken(mesh, given) };
      const client = clientFor(flags);
      const environment = await environmentOf(client, flags);
      if (flags.from !== undefined || flags.to !== undefined) {
        if (!flags.from || !flags.to) throw new CliError('--from and --to go together', 2);
        const q = new URLSearchParams({ environment, from: flags.from, to: flags.to });
        if (flags.window) q.set('window', flags.window);
        const series = await client.request<MeshPairSeries>('GET', `/api/v1/mesh/pairs?${q}`);
        if (flags.json) printResult(series, { json: true });
        else process.stdout.write(describeSeries(series));
        return;
      }
      const view = await client.request<MeshView>('GET', viewPath(environment, flags));
      if (flags.json) {
        const { environment: env, phase, from, to } = view;
        printResult({ environment: env, phase, from, to, pairs: view.pairs.slice(0, flags.slowest) }, { json: true });
      } else process.stdout.write(describePairs(view, flags.slowest));
    });
}
