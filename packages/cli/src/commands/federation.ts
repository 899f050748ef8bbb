import { type Command, Option } from 'commander';
import { type ApiFlags, clientFor, withApiOptions } from '../command-helpers.ts';
import { examples } from '../help.ts';
import { formatTime, printResult } from '../output.ts';
import { registerFederationBuildCommands } from './federation-builds.ts';

interface FederationStatus {
  state: string;
  providerUrl: string | null;
  environment: string | null;
  consumer: string | null;
  profile: string | null;
  pinnedKeyId: string | null;
  offeredKeyId: string | null;
  lastSyncAt: string | null;
  lastError: string | null;
  received: number;
  refused: Array<{ service: string; version: string; reason: string; at: string }>;
  recent: Array<{ service: string; version: string; providerUrl: string; receivedAt: string }>;
}

function printStatus(s: FederationStatus, json?: boolean): void {
  if (json) {
    printResult(s, { json: true });
    return;
  }
  const lines = [
    `state:       ${s.state}`,
    `provider:    ${s.providerUrl ?? '(none)'}`,
    `consumer:    ${s.consumer ?? ''}${s.profile ? ` (profile ${s.profile})` : ''}`,
    `environment: ${s.environment ?? '(received versions are not made desired)'}`,
    `pinned key:  ${s.pinnedKeyId ?? ''}`,
    ...(s.offeredKeyId ? [`offered key: ${s.offeredKeyId} (not the pinned one: its versions are refused)`] : []),
    `last sync:   ${formatTime(s.lastSyncAt)}`,
    ...(s.lastError ? [`last error:  ${s.lastError}`] : []),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  for (const r of s.refused) process.stdout.write(`refused ${r.service} ${r.version}: ${r.reason}\n`);
  if (s.recent.length > 0) {
    printResult(s, {
      columns: ['service', 'version', 'received'],
      rows: s.recent.map((r) => ({ ...r, received: formatTime(r.receivedAt) })),
    });
  }
}

/** `flotilla federation …`: this server as a consumer of a provider server. */
export function registerFederationCommands(program: Command): void {
  const federation = program
    .command('federation')
    .description(
      "follow a provider server's versions as a consumer: status, connect, disconnect, client builds at the provider",
    );

  withApiOptions(
    federation
      .command('status')
      .description('whether this server follows a provider: state (following, backoff, revoked), pinned key, refusals')
      .addHelpText('after', examples(['flotilla federation status'])),
  ).action(async (flags: ApiFlags) => {
    printStatus(await clientFor(flags).request<FederationStatus>('GET', '/api/v1/federation'), flags.json);
  });

  withApiOptions(
    federation
      .command('connect')
      .description(
        "follow a provider with the consumer token it issued (admin); the provider's key is pinned on first contact",
      )
      .requiredOption('--provider-url <url>', 'the provider server')
      .addOption(
        new Option('--provider-token <token>', 'the consumer token (flc_…)')
          .env('FLOTILLA_PROVIDER_TOKEN')
          .makeOptionMandatory(),
      )
      .option('--environment <env>', 'make received versions desired here at once, through its tested gate')
      .addHelpText(
        'after',
        examples([
          'flotilla federation connect --provider-url https://provider.example:8314 --provider-token "$CONSUMER_TOKEN" --environment test',
        ]),
      ),
  ).action(async (flags: ApiFlags & { providerUrl: string; providerToken: string; environment?: string }) => {
    const status = await clientFor(flags).request<FederationStatus>('PUT', '/api/v1/federation', {
      providerUrl: flags.providerUrl,
      providerToken: flags.providerToken,
      ...(flags.environment ? { environment: flags.environment } : {}),
    });
    printStatus(status, flags.json);
  });

  withApiOptions(federation.command('disconnect').description('stop following the provider (admin)')).action(
    async (flags: ApiFlags) => {
      printStatus(await clientFor(flags).request<FederationStatus>('DELETE', '/api/v1/federation'), flags.json);
    },
  );
  registerFederationBuildCommands(federation);
}
