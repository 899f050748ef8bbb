import { type Command, Option } from 'commander';
import { type ApiFlags, clientFor, withApiOptions } from '../command-helpers.ts';
import { examples } from '../help.ts';
import { formatTime, printResult } from '../output.ts';
import type { ConsumerFleet } from './consumer-views.ts';

interface Consumer {
  name: string;
  profile: string;
  description: string;
  createdBy: string;
  createdAt: string;
  lastSeenAt: string | null;
  revokedAt: string | null;
  settingsUrls: string[];
}

interface CreateFlags {
  profile: string;
  description?: string;
  testConsumer?: string;
  settingsUrl: string[];
}

const row = (c: Consumer) => ({
  name: c.name,
  profile: c.profile,
  created: formatTime(c.createdAt),
  lastSeen: formatTime(c.lastSeenAt),
  revoked: formatTime(c.revokedAt),
});

/** `flotilla consumer …`: accounts of consumer servers on this (provider) server. */
export function registerConsumerCommands(program: Command): void {
  const consumer = program
    .command('consumer')
    .description('consumer servers that follow this server: accounts bound to a profile, their tokens and reports');

  withApiOptions(
    consumer
      .command('create <name>')
      .description('create a consumer account bound to a profile (admin); prints its token once')
      .requiredOption('--profile <profile>', 'the profile whose services the consumer receives')
      .option('--description <text>', 'who the consumer is')
      .option('--test-consumer <name>', 'offer only versions this other consumer (the test installation) marked tested')
      .addOption(
        new Option(
          '--settings-url <prefix>',
          'let the consumer ask for client builds with settings repositories under this URL prefix (repeatable)',
        )
          .argParser((text: string, previous: string[]) => [...previous, text])
          .default([]),
      )
      .addHelpText(
        'after',
        examples([
          'flotilla consumer create acme --profile partner   # then: flotilla server --provider-url … --provider-token flc_…',
          'flotilla consumer create acme-prod --profile partner --test-consumer acme   # only what acme marked tested',
          'flotilla consumer create acme --profile partner --settings-url https://git.acme.example/settings/',
        ]),
      ),
  ).action(async (name: string, flags: ApiFlags & CreateFlags) => {
    const created = await clientFor(flags).request<{ consumer: Consumer; token: string }>('POST', '/api/v1/consumers', {
      name,
      profile: flags.profile,
      ...(flags.description ? { description: flags.description } : {}),
      ...(flags.testConsumer ? { testConsumer: flags.testConsumer } : {}),
      ...(flags.settingsUrl.length > 0 ? { settingsUrls: flags.settingsUrl } : {}),
    });
    if (flags.json) printResult(created, { json: true });
    else
      process.stdout.write(
        `Created consumer "${name}" (profile ${flags.profile}). Its token, shown only now:\n${created.token}\n`,
      );
  });

  withApiOptions(consumer.command('list').description('consumer accounts: profile, last seen, revoked')).action(
    async (flags: ApiFlags) => {
      const list = await clientFor(flags).request<{ consumers: Consumer[] }>('GET', '/api/v1/consumers');
      printResult(list, {
        json: flags.json,
        columns: ['name', 'profile', 'created', 'lastSeen', 'revoked'],
        empty: 'no consumers',
        rows: list.consumers.map(row),
      });
    },
  );

  withApiOptions(
    consumer
      .command('settings-urls <name> [prefix...]')
      .description(
        'set the URL prefixes of the settings repositories the consumer may have built here (admin); none: no builds',
      )
      .addHelpText(
        'after',
        examples([
          'flotilla consumer settings-urls acme https://git.acme.example/settings/ https://git.example.com/shared-settings/',
        ]),
      ),
  ).action(async (name: string, prefixes: string[], flags: ApiFlags) => {
    const c = await clientFor(flags).request<Consumer>(
      'PUT',
      `/api/v1/consumers/${encodeURIComponent(name)}/settings-urls`,
      { settingsUrls: prefixes },
    );
    if (flags.json) printResult(c, { json: true });
    else if (c.settingsUrls.length === 0) process.stdout.write(`Consumer "${c.name}" may ask for no builds.\n`);
    else
      process.stdout.write(
        `Consumer "${c.name}" may ask for builds with settings under:\n${c.settingsUrls.join('\n')}\n`,
      );
  });

  withApiOptions(
    consumer
      .command('revoke <name>')
      .description("revoke a consumer's token (admin): its server stops following at once"),
  ).action(async (name: string, flags: ApiFlags) => {
    const c = await clientFor(flags).request<Consumer>('POST', `/api/v1/consumers/${encodeURIComponent(name)}/revoke`);
    if (flags.json) printResult(c, { json: true });
    else process.stdout.write(`Revoked the token of consumer "${c.name}".\n`);
  });

  withApiOptions(
    consumer
      .command('fleet <name>')
      .description("what the consumer last reported: its instances of this server's services, and faults"),
  ).action(async (name: string, flags: ApiFlags) => {
    const fleet = await clientFor(flags).request<ConsumerFleet>(
      'GET',
      `/api/v1/consumers/${encodeURIComponent(name)}/fleet`,
    );
    if (flags.json) {
      printResult(fleet, { json: true });
      return;
    }
    process.stdout.write(`Reported ${fleet.receivedAt ? formatTime(fleet.receivedAt) : 'never'}\n`);
    printResult(fleet, {
      columns: ['environment', 'instance', 'service', 'version', 'state'],
      empty: 'no instances reported',
      rows: fleet.instances.map((i) => ({ ...i, instance: i.instanceId, version: i.version ?? '' })),
    });
    if (fleet.faults.length > 0) {
      printResult(fleet, {
        columns: ['at', 'instance', 'service', 'version', 'reason'],
        rows: fleet.faults.map((f) => ({
          ...f,
          at: formatTime(f.at),
          instance: f.instanceId,
          version: f.version ?? '',
        })),
      });
    }
  });
}
