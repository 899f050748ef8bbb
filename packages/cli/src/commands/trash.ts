import type { TrashItem, TrashKind, TrashList } from '@flotilla/protocol';
import { Command, Option } from 'commander';
import { CliError } from '../api-client.ts';
import { type ApiFlags, clientFor, withApiOptions } from '../command-helpers.ts';
import { examples } from '../help.ts';
import { formatTime, printResult } from '../output.ts';

const enc = encodeURIComponent;

/** One restorable kind: its CLI group, its API route and how its arguments name one item. */
interface KindSpec {
  kind: TrashKind;
  group: string;
  args: string;
  route: (a: string[]) => string;
  label: (a: string[]) => string;
}

const kinds: KindSpec[] = [
  {
    kind: 'service',
    group: 'service',
    args: '<name>',
    route: ([n]) => `/api/v1/services/${enc(n ?? '')}`,
    label: ([n]) => `service ${n}`,
  },
  {
    kind: 'profile',
    group: 'profile',
    args: '<name>',
    route: ([n]) => `/api/v1/profiles/${enc(n ?? '')}`,
    label: ([n]) => `profile ${n}`,
  },
  {
    kind: 'environment',
    group: 'env',
    args: '<name>',
    route: ([n]) => `/api/v1/environments/${enc(n ?? '')}`,
    label: ([n]) => `environment ${n}`,
  },
  {
    kind: 'version',
    group: 'version',
    args: '<service> <version>',
    route: ([s, v]) => `/api/v1/services/${enc(s ?? '')}/versions/${enc(v ?? '')}`,
    label: ([s, v]) => `${s} ${v}`,
  },
];

const itemLabel = (i: TrashItem) => (i.kind === 'version' ? `${i.name} ${i.version}` : `${i.kind} ${i.name}`);

const restoreCommand = (i: TrashItem) =>
  i.kind === 'version'
    ? `flotilla version restore ${i.name} ${i.version}`
    : `flotilla ${i.kind === 'environment' ? 'env' : i.kind} restore ${i.name}`;

/** Finds a group registered elsewhere (catalog.ts, desired.ts), so those files need no edit. */
function group(program: Command, name: string): Command {
  const found = program.commands.find((c) => c.name() === name);
  if (!found) throw new Error(`the "${name}" command must be registered before the trash commands`);
  return found;
}

async function deleteItem(spec: KindSpec, args: string[], flags: ApiFlags): Promise<void> {
  const client = clientFor(flags);
  await client.request('DELETE', spec.route(args));
  const { items } = await client.request<TrashList>('GET', `/api/v1/trash?kind=${spec.kind}`);
  const item = items.find((i) => i.name === args[0] && (spec.kind !== 'version' || i.version === args[1]));
  if (flags.json) return printResult(item ?? {}, { json: true });
  const until = item ? ` until ${formatTime(item.purgeAfter)}` : '';
  const how = item ? `: ${restoreCommand(item)}` : '';
  process.stdout.write(`deleted ${spec.label(args)}; restorable${until}${how}\n`);
}

async function restoreItem(spec: KindSpec, args: string[], flags: ApiFlags): Promise<void> {
  const item = await clientFor(flags).request<TrashItem>('POST', `${spec.route(args)}/restore`);
  if (flags.json) return printResult(item, { json: true });
  process.stdout.write(`restored ${itemLabel(item)} (deleted ${formatTime(item.deletedAt)} by ${item.deletedBy})\n`);
}

function printItems(items: TrashItem[], flags: ApiFlags): void {
  printResult(
    { items },
    {
      json: flags.json,
      columns: ['id', 'kind', 'name', 'version', 'deletedBy', 'deleted', 'purgeAfter'],
      rows: items.map((i) => ({
        ...i,
        deleted: formatTime(i.deletedAt),
        purgeAfter: formatTime(i.purgeAfter),
      })),
      empty: 'nothing deleted to restore',
    },
  );
}

export function registerTrashCommands(program: Command): void {
  for (const spec of kinds) {
    const parent = group(program, spec.group);
    const example = spec.kind === 'version' ? 'web 1.0.0' : spec.kind === 'environment' ? 'staging' : 'web';
    const command = spec.kind === 'environment' ? 'env' : spec.group;
    if (!parent.commands.some((c) => c.name() === 'delete')) {
      withApiOptions(
        parent
          .command(`delete ${spec.args}`)
          .description(
            `delete a ${spec.kind}; it stays restorable for the server's trash retention (7 days by default)`,
          )
          .addHelpText('after', examples([`flotilla ${command} delete ${example}`])),
      ).action(async (...a: unknown[]) => deleteItem(spec, a.slice(0, -2) as string[], a.at(-2) as ApiFlags));
    }
    withApiOptions(
      parent
        .command(`restore ${spec.args}`)
        .description(`bring back the most recently deleted ${spec.kind} of that name`)
        .addHelpText('after', examples([`flotilla ${command} restore ${example}`, 'flotilla trash list'])),
    ).action(async (...a: unknown[]) => restoreItem(spec, a.slice(0, -2) as string[], a.at(-2) as ApiFlags));
  }

  const trash = program
    .command('trash')
    .description('deleted services, profiles, environments and versions that can still be restored');
  const list = withApiOptions(
    new Command('list')
      .description('list what can be restored, newest first')
      .addOption(new Option('--kind <kind>', 'only this kind').choices(kinds.map((k) => k.kind)))
      .addHelpText('after', examples(['flotilla trash list', 'flotilla trash list --kind version'])),
  ).action(async (flags: ApiFlags & { kind?: TrashKind }) => {
    const query = flags.kind ? `?kind=${flags.kind}` : '';
    const { items } = await clientFor(flags).request<TrashList>('GET', `/api/v1/trash${query}`);
    printItems(items, flags);
  });
  trash.addCommand(list, { isDefault: true });
  withApiOptions(
    trash
      .command('restore <id>')
      .description('restore one deleted item by the id `flotilla trash list` shows')
      .addHelpText('after', examples(['flotilla trash restore 3f0c…'])),
  ).action(async (id: string, flags: ApiFlags) => {
    const item = await clientFor(flags).request<TrashItem>('POST', `/api/v1/trash/${enc(id)}/restore`);
    if (flags.json) return printResult(item, { json: true });
    process.stdout.write(`restored ${itemLabel(item)}\n`);
  });
  withApiOptions(
    trash
      .command('purge <id>')
      .description('delete one item for good now, ahead of the retention (it cannot be restored after)')
      .option('--yes', 'confirm: purging cannot be undone')
      .addHelpText('after', examples(['flotilla trash purge 3f0c… --yes'])),
  ).action(async (id: string, flags: ApiFlags & { yes?: boolean }) => {
    if (!flags.yes) throw new CliError('purging cannot be undone; add --yes to purge', 2);
    const item = await clientFor(flags).request<TrashItem>('DELETE', `/api/v1/trash/${enc(id)}`);
    if (flags.json) return printResult(item, { json: true });
    process.stdout.write(`purged ${itemLabel(item)}\n`);
  });
}
