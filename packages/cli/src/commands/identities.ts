import type { AgentIdentity, IdentityList } from '@flotilla/protocol';
import type { Command } from 'commander';
import { type ApiFlags, clientFor, withApiOptions } from '../command-helpers.ts';
import { examples } from '../help.ts';
import { formatTime, printResult } from '../output.ts';

const identityRow = (i: AgentIdentity) => ({
  instance: i.instanceId,
  environment: i.environment,
  profile: i.profile ?? '',
  token: i.tokenName ?? i.tokenId,
  enrolled: formatTime(i.enrolledAt),
  lastUsed: formatTime(i.lastUsedAt),
  revoked: formatTime(i.revokedAt),
});

/** `flotilla instance identities` and `flotilla instance revoke`, under the `instance` command. */
export function registerIdentityCommands(instance: Command): void {
  withApiOptions(
    instance
      .command('identities')
      .description('list enrolled instances: environment, profile, the token that enrolled each, revocation')
      .option('--env <env>', 'only this environment')
      .option('--revoked', 'only revoked identities'),
  ).action(async (flags: ApiFlags & { env?: string; revoked?: boolean }) => {
    const q = new URLSearchParams();
    if (flags.env) q.set('environment', flags.env);
    if (flags.revoked) q.set('revoked', 'true');
    const list = await clientFor(flags).request<IdentityList>('GET', `/api/v1/identities?${q}`);
    printResult(list, {
      json: flags.json,
      columns: ['instance', 'environment', 'profile', 'token', 'enrolled', 'lastUsed', 'revoked'],
      empty: 'no enrolled instances match',
      rows: list.identities.map(identityRow),
    });
  });

  withApiOptions(
    instance
      .command('revoke <id>')
      .description("revoke an instance's identity (admin): its credential is refused at once; it may enrol again")
      .addHelpText(
        'after',
        examples(['flotilla instance revoke web-01   # a lost or stolen host; its agent stops with "revoked"']),
      ),
  ).action(async (id: string, flags: ApiFlags) => {
    const revoked = await clientFor(flags).request<AgentIdentity>(
      'DELETE',
      `/api/v1/instances/${encodeURIComponent(id)}/identity`,
    );
    if (flags.json) printResult(revoked, { json: true });
    else process.stdout.write(`Revoked the identity of instance "${revoked.instanceId}" (${revoked.environment}).\n`);
  });
}
