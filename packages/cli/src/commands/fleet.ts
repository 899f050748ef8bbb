import type { FleetService, FleetView } from '@flotilla/protocol';
import type { Command } from 'commander';
import { CliError } from '../api-client.ts';
import { type ApiFlags, clientFor, withApiOptions } from '../command-helpers.ts';
import { examples } from '../help.ts';
import { formatTable, printResult } from '../output.ts';

/** `3 ok, 1 failed, 2 behind`: the verdicts that have instances, ok first. */
export function describeCounts(counts: Record<string, number>): string {
  const parts = Object.entries(counts)
    .filter(([, n]) => n > 0)
    .sort(([a], [b]) => Number(b === 'ok') - Number(a === 'ok'))
    .map(([verdict, n]) => `${n} ${verdict}`);
  return parts.length > 0 ? parts.join(', ') : 'no instances';
}

function printService(s: FleetService): string {
  const head = `${s.environment} / ${s.service}: desired ${s.desiredVersion}: ${describeCounts(s.counts)}\n`;
  if (s.instances.length === 0) return head;
  const rows = s.instances.map((r) => ({
    instance: r.instanceId,
    verdict: r.verdict,
    version: r.version ?? '',
    desired: r.desiredVersion ?? '',
    state: r.state ?? '',
    reason: r.reason ?? '',
  }));
  return head + formatTable(rows, ['instance', 'verdict', 'version', 'desired', 'state', 'reason']);
}

type FleetFlags = ApiFlags & {
  environment?: string;
  service?: string;
  alerts?: boolean;
  limit?: string;
  consumer?: string;
};

export function registerFleetCommands(program: Command): void {
  withApiOptions(
    program
      .command('fleet')
      .description('per environment and service: the desired version against what each instance runs'),
  )
    .option('--environment <name>', 'only this environment')
    .option('--service <name>', 'only this service')
    .option('--alerts', 'only instances whose verdict is not ok (the counts still cover all)')
    .option('--limit <n>', 'instances shown per service (default: 200)')
    .option('--consumer <name>', "what this consumer server last reported of this server's services, instead")
    .addHelpText(
      'after',
      examples([
        'flotilla fleet',
        'flotilla fleet --environment production --alerts   # only what needs a look',
        'flotilla fleet --consumer acme --service web   # what consumer acme runs',
      ]),
    )
    .action(async (flags: FleetFlags) => {
      if (flags.consumer) {
        if (flags.alerts || flags.limit) throw new CliError('--alerts and --limit are for this server’s own fleet', 2);
        const { printConsumerFleet } = await import('./consumer-views.ts');
        return printConsumerFleet(flags.consumer, flags, flags);
      }
      const q = new URLSearchParams();
      if (flags.environment) q.set('environment', flags.environment);
      if (flags.service) q.set('service', flags.service);
      if (flags.alerts) q.set('alerts', 'true');
      if (flags.limit) q.set('limit', flags.limit);
      const view = await clientFor(flags).request<FleetView>('GET', `/api/v1/fleet${q.size > 0 ? `?${q}` : ''}`);
      if (flags.json) {
        printResult(view, { json: true });
        return;
      }
      if (view.services.length === 0) {
        process.stdout.write('(no desired services)\n');
        return;
      }
      process.stdout.write(view.services.map(printService).join('\n'));
    });
}
