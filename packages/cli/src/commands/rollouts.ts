import type { Rollout, RolloutList, RolloutStart, RolloutWave } from '@flotilla/protocol';
import type { Command } from 'commander';
import { CliError } from '../api-client.ts';
import { type ApiFlags, clientFor, withApiOptions } from '../command-helpers.ts';
import { examples } from '../help.ts';
import { formatTable, formatTime, printResult } from '../output.ts';
import { parseAssignments } from './desired.ts';

const uuidRe = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function ratio(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!(n > 0 && n <= 1)) throw new CliError(`${name} must be a number in (0, 1]; got "${text}"`, 2);
  return n;
}

/** `--selector k=v` waves first (in the order given), then the `--waves` percentages. */
export function parseWaves(percents: string | undefined, selectors: string[]): RolloutWave[] {
  const waves: RolloutWave[] = selectors.map((s) => {
    const at = s.indexOf('=');
    if (at < 1) throw new CliError(`"${s}" is not <label>=<value>`, 2);
    return { selector: { [s.slice(0, at)]: s.slice(at + 1) } };
  });
  for (const p of (percents ?? '').split(',').filter(Boolean)) {
    const n = Number(p.trim().replace(/%$/, ''));
    if (!Number.isFinite(n)) throw new CliError(`"${p}" is not a percentage`, 2);
    waves.push({ percent: n });
  }
  if (waves.length === 0) throw new CliError('give --waves 10,50,100 and/or --selector label=value', 2);
  return waves;
}

function describeWave(wave: RolloutWave): string {
  return 'percent' in wave
    ? `${wave.percent}%`
    : Object.entries(wave.selector)
        .map(([k, v]) => `${k}=${v}`)
        .join(',');
}

function printRollout(r: Rollout): void {
  const comment = r.comment ? `: ${r.comment}` : '';
  process.stdout.write(
    `rollout ${r.id} in ${r.environment}${comment}\n` +
      `state ${r.state}, wave ${r.currentWave + 1} of ${r.waves.length}, revision ${r.baseRevision} → ${r.targetRevision}\n` +
      `success ≥ ${r.successThreshold}, errors ≥ ${r.errorThreshold} → ${r.onError}` +
      `${r.requireApproval ? ', approval between waves' : ''}${r.minWaveSeconds ? `, waves last ≥ ${r.minWaveSeconds}s` : ''}\n`,
  );
  const rows = r.waves.map((w) => ({
    wave: `${w.index + 1}${w.index === r.currentWave ? ' *' : ''}`,
    admits: describeWave(w.wave),
    instances: w.instances,
    succeeded: w.succeeded,
    failed: w.failed,
    pending: w.pending,
  }));
  process.stdout.write(formatTable(rows, ['wave', 'admits', 'instances', 'succeeded', 'failed', 'pending']));
}

export function registerRolloutCommands(program: Command): void {
  const cmd = program.command('rollout').description('staged rollouts of desired-version changes, wave by wave');

  withApiOptions(
    cmd
      .command('start <env> <assignments...>')
      .description('start a rollout: <service>=<version>... become the target revision')
      .option('--waves <list>', 'cumulative percentages, e.g. 10,50,100')
      .option(
        '--selector <label=value>',
        'a wave of instances with this label (repeatable, before --waves)',
        collect,
        [],
      )
      .option('--remove <service>', 'also remove this service (repeatable)', collect, [])
      .option('--success <ratio>', 'share of a wave that must succeed (default: 0.95)')
      .option('--error <ratio>', 'share of a wave whose failure stops it (default: 0.1)')
      .option('--on-error <action>', 'pause or abort (default: pause)')
      .option('--approval', 'wait for approval between waves')
      .option('--min-wave-seconds <n>', 'each wave lasts at least this long')
      .option('--comment <text>', 'comment of the target revision')
      .addHelpText(
        'after',
        examples([
          'flotilla rollout start production web=1.1.0 --waves 10,50,100 --approval',
          'flotilla rollout start production web=1.1.0 --selector canary=true --waves 100 --on-error abort',
        ]),
      ),
  ).action(
    async (
      envName: string,
      assignments: string[],
      flags: ApiFlags & {
        waves?: string;
        selector: string[];
        remove: string[];
        success?: string;
        error?: string;
        onError?: string;
        approval?: boolean;
        minWaveSeconds?: string;
        comment?: string;
      },
    ) => {
      if (flags.onError !== undefined && flags.onError !== 'pause' && flags.onError !== 'abort') {
        throw new CliError(`--on-error takes pause or abort; got "${flags.onError}"`, 2);
      }
      const minWave = flags.minWaveSeconds === undefined ? undefined : Number(flags.minWaveSeconds);
      if (minWave !== undefined && !(Number.isInteger(minWave) && minWave >= 0)) {
        throw new CliError(`--min-wave-seconds takes a whole number of seconds`, 2);
      }
      const body: RolloutStart = {
        set: parseAssignments(assignments),
        ...(flags.remove.length > 0 ? { remove: flags.remove } : {}),
        waves: parseWaves(flags.waves, flags.selector),
        successThreshold: ratio('--success', flags.success),
        errorThreshold: ratio('--error', flags.error),
        onError: flags.onError as 'pause' | 'abort' | undefined,
        requireApproval: flags.approval ? true : undefined,
        minWaveSeconds: minWave,
        comment: flags.comment,
      };
      const started = await clientFor(flags).request<Rollout>(
        'POST',
        `/api/v1/environments/${encodeURIComponent(envName)}/rollouts`,
        JSON.parse(JSON.stringify(body)),
      );
      if (flags.json) return printResult(started, { json: true });
      printRollout(started);
    },
  );

  withApiOptions(
    cmd.command('status <envOrId>').description("a rollout's state and waves, or an environment's rollouts"),
  ).action(async (target: string, flags: ApiFlags) => {
    const client = clientFor(flags);
    if (uuidRe.test(target)) {
      const r = await client.request<Rollout>('GET', `/api/v1/rollouts/${encodeURIComponent(target)}`);
      if (flags.json) return printResult(r, { json: true });
      return printRollout(r);
    }
    const { rollouts } = await client.request<RolloutList>(
      'GET',
      `/api/v1/environments/${encodeURIComponent(target)}/rollouts`,
    );
    if (flags.json) return printResult({ rollouts }, { json: true });
    if (rollouts.length === 0) {
      process.stdout.write(`no rollouts in ${target}\n`);
      return;
    }
    printRollout(rollouts[0] as Rollout);
    if (rollouts.length > 1) {
      process.stdout.write('\nearlier rollouts\n');
      const rows = rollouts.slice(1).map((r) => ({
        id: r.id,
        state: r.state,
        revisions: `${r.baseRevision} → ${r.targetRevision}`,
        created: formatTime(r.createdAt),
      }));
      process.stdout.write(formatTable(rows, ['id', 'state', 'revisions', 'created']));
    }
  });

  for (const action of ['pause', 'resume', 'approve', 'abort'] as const) {
    withApiOptions(
      cmd
        .command(`${action} <envOrId>`)
        .description(`${action} a rollout: by its id, or the active one of an environment`),
    ).action(async (target: string, flags: ApiFlags) => {
      const client = clientFor(flags);
      const id = uuidRe.test(target) ? target : await activeRolloutId(client, target);
      const r = await client.request<Rollout>('POST', `/api/v1/rollouts/${encodeURIComponent(id)}/${action}`);
      if (flags.json) return printResult(r, { json: true });
      process.stdout.write(`rollout ${r.id}: ${r.state} (wave ${r.currentWave + 1} of ${r.waves.length})\n`);
    });
  }
}

/** An environment has at most one rollout that is running, waiting for approval or paused. */
async function activeRolloutId(client: ReturnType<typeof clientFor>, env: string): Promise<string> {
  const { rollouts } = await client.request<RolloutList>(
    'GET',
    `/api/v1/environments/${encodeURIComponent(env)}/rollouts`,
  );
  const active = rollouts.find((r) => ['running', 'waiting_approval', 'paused'].includes(r.state));
  if (!active) throw new CliError(`no active rollout in ${env}`);
  return active.id;
}
