import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import type { AuditPage, CreatedToken, TokenInfo, UserInfo, UserList, WhoAmI } from '@flotilla/protocol';
import { type Command, Option } from 'commander';
import { ApiClient, apiError, CliError, saveLogin, unreachable } from '../api-client.ts';
import { type ApiFlags, clientFor, countOption, wholeNumber, withApiOptions } from '../command-helpers.ts';
import { examples } from '../help.ts';
import { formatTime, printResult } from '../output.ts';
import { addUserOffline, createAdminTokenOffline, type StoreFlags } from './offline-store.ts';

const roles = ['admin', 'developer', 'viewer'];

/** A strong random password for people who did not pick one: 24 characters, about 143 bits, as the server makes them. */
const generatePassword = () => randomBytes(18).toString('base64url');

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** Asks on the terminal without echoing what is typed. */
async function promptHidden(question: string): Promise<string> {
  if (!process.stdin.isTTY) throw new CliError('no terminal to ask for the password: use --password-stdin', 2);
  process.stderr.write(question);
  const muted = new Writable({ write: (_chunk, _enc, done) => done() });
  const rl = createInterface({ input: process.stdin, output: muted, terminal: true });
  try {
    return await new Promise<string>((done) => rl.question('', done));
  } finally {
    rl.close();
    process.stderr.write('\n');
  }
}

async function readPassword(flags: { passwordStdin?: boolean }): Promise<string> {
  const password = flags.passwordStdin ? await readStdin() : await promptHidden('Password: ');
  if (!password) throw new CliError('the password is empty', 2);
  return password;
}

async function postLogin(server: string, name: string, password: string): Promise<CreatedToken> {
  let res: Response;
  try {
    res = await fetch(`${server}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name, password, tokenName: `cli@${hostname()}` }),
    });
  } catch (err) {
    throw unreachable(server, err);
  }
  const text = await res.text();
  if (!res.ok) {
    const failed = apiError('POST', '/api/v1/auth/login', res.status, res.statusText, text);
    const retry = res.headers.get('retry-after');
    throw new CliError(`login failed: ${failed.message}${retry ? ` (retry after ${retry} s)` : ''}`, 1, failed.detail);
  }
  return JSON.parse(text) as CreatedToken;
}

function registerLogin(program: Command): void {
  program
    .command('login')
    .description('check a credential and save it with the server URL for later commands')
    .requiredOption('--server <url>', 'server URL')
    .option('--token <token>', 'an API token')
    .option('--user <name>', 'log in with a user name and password; a new personal token is saved')
    .option('--password-stdin', 'read the password from standard input')
    .option('--json', 'print JSON for scripts')
    .addHelpText(
      'after',
      examples([
        'flotilla login --server http://127.0.0.1:8314 --token "$TOKEN"',
        'flotilla login --server https://flotilla.example.com --user alice',
      ]),
    )
    .action(
      async (flags: { server: string; token?: string; user?: string; passwordStdin?: boolean; json?: boolean }) => {
        const server = flags.server.replace(/\/$/, '');
        if (!flags.token === !flags.user) throw new CliError('pass exactly one of --token or --user', 2);
        const token = flags.token ?? (await postLogin(server, flags.user as string, await readPassword(flags))).token;
        const me = await new ApiClient({ server, token }).request<WhoAmI>('GET', '/api/v1/whoami');
        const file = saveLogin({ server, token });
        if (flags.json) printResult({ server, ...me, saved: file }, { json: true });
        else process.stdout.write(`Logged in to ${server} as ${me.user ?? me.name} (${me.role}); saved to ${file}\n`);
      },
    );

  withApiOptions(program.command('whoami').description('show the credential in use')).action(
    async (flags: ApiFlags) => {
      const me = await clientFor(flags).request<WhoAmI>('GET', '/api/v1/whoami');
      printResult(me, {
        json: flags.json,
        rows: [me],
        columns: ['user', 'name', 'role', 'kind', 'environment', 'profile'],
      });
    },
  );
}

interface AddFlags extends ApiFlags, StoreFlags {
  role: UserInfo['role'];
  passwordStdin?: boolean;
}

const userColumns = ['name', 'role', 'disabled', 'created'];
const userRow = (u: UserInfo) => ({
  name: u.name,
  role: u.role,
  disabled: u.disabled ? 'yes' : '',
  created: formatTime(u.createdAt),
});

function registerUser(program: Command): void {
  const user = program.command('user').description('manage users (admin)');
  withApiOptions(
    user.command('add <name>').description('create a user; without a password, one is generated and shown once'),
  )
    .addOption(new Option('--role <role>', 'admin, developer or viewer').choices(roles).makeOptionMandatory())
    .option('--password-stdin', 'read the password from standard input')
    .option('--data-dir <dir>', "work on the store in this server's data dir directly, without a server")
    .option('--database <url>', "work on the server's store (SQLite path or postgres:// URL) directly")
    .addHelpText(
      'after',
      examples([
        'flotilla user add alice --role developer              # prints a generated password once',
        'flotilla user add admin --role admin --data-dir ./flotilla-data   # on the server host, without a token',
      ]),
    )
    .action(async (name: string, flags: AddFlags) => {
      const generated = flags.passwordStdin ? null : generatePassword();
      const password = generated ?? (await readPassword(flags));
      const created =
        flags.dataDir || flags.database
          ? await addUserOffline(flags, { name, role: flags.role, password })
          : await clientFor(flags).request<UserInfo>('POST', '/api/v1/users', { name, role: flags.role, password });
      if (flags.json) printResult({ user: created, ...(generated ? { password: generated } : {}) }, { json: true });
      else {
        process.stdout.write(`Created user ${created.name} (${created.role}).\n`);
        if (generated) process.stdout.write(`Password (shown only this once): ${generated}\n`);
      }
    });
  withApiOptions(user.command('list').description('list users')).action(async (flags: ApiFlags) => {
    const { users } = await clientFor(flags).request<UserList>('GET', '/api/v1/users');
    printResult(users, { json: flags.json, rows: users.map(userRow), columns: userColumns });
  });
  const patch = (path: string, body: unknown, flags: ApiFlags) =>
    clientFor(flags).request<UserInfo>('PATCH', `/api/v1/users/${encodeURIComponent(path)}`, body);
  const show = (u: UserInfo, flags: ApiFlags) =>
    printResult(u, { json: flags.json, rows: [userRow(u)], columns: userColumns });
  withApiOptions(user.command('set-role <name> <role>').description("change a user's role")).action(
    async (name: string, role: string, flags: ApiFlags) => {
      if (!roles.includes(role)) throw new CliError(`role must be one of ${roles.join(', ')}`, 2);
      show(await patch(name, { role }, flags), flags);
    },
  );
  withApiOptions(user.command('disable <name>').description('disable a user and revoke their tokens')).action(
    async (name: string, flags: ApiFlags) => show(await patch(name, { disabled: true }, flags), flags),
  );
  withApiOptions(
    user.command('enable <name>').description('enable a disabled user (their old tokens stay revoked)'),
  ).action(async (name: string, flags: ApiFlags) => show(await patch(name, { disabled: false }, flags), flags));
  withApiOptions(user.command('set-password <name>').description("set a user's password"))
    .option('--password-stdin', 'read the password from standard input')
    .action(async (name: string, flags: ApiFlags & { passwordStdin?: boolean }) =>
      show(await patch(name, { password: await readPassword(flags) }, flags), flags),
    );
}

const tokenColumns = ['id', 'name', 'kind', 'role', 'user', 'environment', 'profile', 'lastUsed', 'expires', 'revoked'];
const tokenRow = (t: TokenInfo) => ({
  ...t,
  lastUsed: formatTime(t.lastUsedAt),
  expires: formatTime(t.expiresAt),
  revoked: formatTime(t.revokedAt),
});

interface TokenCreateFlags extends ApiFlags, StoreFlags {
  admin?: boolean;
  quiet?: boolean;
  agent?: boolean;
  env?: string;
  profile?: string;
  name?: string;
  expiresInDays?: number;
  maxInstances?: number;
}

/** Prints a token made just now, once: the answer for --json, the token alone for --quiet, else words. */
function printCreatedToken(created: CreatedToken, flags: { json?: boolean; quiet?: boolean }): void {
  if (flags.json) {
    printResult(created, { json: true });
    return;
  }
  if (flags.quiet) {
    process.stdout.write(`${created.token}\n`);
    return;
  }
  const { kind, name, id } = created.info;
  // The value alone after a fixed prefix, so a script can pick it out (`admin token: ` as the server prints it).
  const prefix = kind === 'admin' ? 'admin token' : 'token';
  process.stdout.write(
    `Created ${kind} token "${name}" (id ${id}), shown only this once:\n${prefix}: ${created.token}\n`,
  );
}

/** Break-glass: an admin token made against the store, for whoever can read the server's data. */
async function createAdminToken(flags: TokenCreateFlags): Promise<CreatedToken> {
  if (flags.agent || flags.env || flags.profile || flags.maxInstances) {
    throw new CliError('--admin cannot be combined with --agent, --env, --profile or --max-instances', 2);
  }
  if (!flags.dataDir && !flags.database) {
    throw new CliError('an admin token is made against the store: add --data-dir <dir> or --database <url>', 2);
  }
  return createAdminTokenOffline(flags, flags.name ?? `admin@${hostname()}`, flags.expiresInDays);
}

async function createApiToken(flags: TokenCreateFlags): Promise<CreatedToken> {
  if (flags.dataDir || flags.database) throw new CliError('--data-dir and --database are for --admin tokens', 2);
  if (flags.agent && !flags.env) throw new CliError('an agent token needs --env <environment>', 2);
  if (!flags.agent && (flags.env || flags.profile || flags.maxInstances)) {
    throw new CliError('--env, --profile and --max-instances need --agent', 2);
  }
  const defaultName = flags.agent
    ? `agent-${flags.env}${flags.profile ? `-${flags.profile}` : ''}`
    : `cli@${hostname()}`;
  return clientFor(flags).request<CreatedToken>('POST', '/api/v1/tokens', {
    kind: flags.agent ? 'agent' : 'personal',
    name: flags.name ?? defaultName,
    environment: flags.env,
    profile: flags.profile,
    expiresInDays: flags.expiresInDays,
    maxInstances: flags.maxInstances,
  });
}

function registerToken(program: Command): void {
  const token = program.command('token').description('manage API tokens');
  withApiOptions(token.command('create').description('create a personal token, or an agent token with --agent'))
    .option(
      '--admin',
      'an admin token, made against the store (--data-dir or --database): when the first-start token is lost',
    )
    .option('--data-dir <dir>', 'with --admin: the data dir of the server whose store gets the token')
    .option('--database <url>', 'with --admin: the store (SQLite path or postgres:// URL) that gets the token')
    .option('--agent', 'an agent token bound to an environment (developer or admin)')
    .option('--env <env>', 'the environment of an agent token')
    .option('--profile <profile>', 'the profile of an agent token')
    .addOption(
      new Option('--max-instances <n>', 'how many instances an agent token may enrol (default: no limit)').argParser(
        (text: string) => wholeNumber('--max-instances', text),
      ),
    )
    .option('--name <name>', 'a name to recognise the token by (default: agent-<env> or cli@<host>)')
    .addOption(
      new Option('--expires-in-days <n>', 'days until the token expires (default: never)').argParser((text: string) =>
        wholeNumber('--expires-in-days', text),
      ),
    )
    .option('-q, --quiet', 'print only the token, for TOKEN=$(flotilla token create …)')
    .addHelpText(
      'after',
      examples([
        'flotilla token create --agent --env production --name web-01',
        'flotilla token create --agent --env prod --max-instances 20   # at most 20 hosts enrol with it',
        'flotilla token create --name laptop --expires-in-days 90',
        'AGENT_TOKEN=$(flotilla token create --agent --env production --name web-01 --quiet)',
        'TOKEN=$(flotilla token create --admin --data-dir ./flotilla-data --quiet)   # the admin token was lost',
      ]),
    )
    .action(async (flags: TokenCreateFlags) => {
      printCreatedToken(await (flags.admin ? createAdminToken(flags) : createApiToken(flags)), flags);
    });
  withApiOptions(token.command('list').description('list tokens (admins see all)')).action(async (flags: ApiFlags) => {
    const { tokens } = await clientFor(flags).request<{ tokens: TokenInfo[] }>('GET', '/api/v1/tokens');
    printResult(tokens, { json: flags.json, rows: tokens.map(tokenRow), columns: tokenColumns });
  });
  withApiOptions(token.command('revoke <id>').description('revoke a token')).action(
    async (id: string, flags: ApiFlags) => {
      const revoked = await clientFor(flags).request<TokenInfo>('DELETE', `/api/v1/tokens/${encodeURIComponent(id)}`);
      if (flags.json) printResult(revoked, { json: true });
      else process.stdout.write(`Revoked token "${revoked.name}" (id ${revoked.id}).\n`);
    },
  );
}

function registerAudit(program: Command): void {
  withApiOptions(program.command('audit').description('show the audit log, newest first (admin)'))
    .addOption(countOption('--limit <n>', 'entries to show, at most 500', 50, 500))
    .option('--action <action>', 'only this action, e.g. user.create')
    .option('--actor <actor>', 'only this actor: a user name, or token:<name>')
    .option('--before <id>', 'entries older than this one (the `next` of a previous page)')
    .action(async (flags: ApiFlags & { limit: number; action?: string; actor?: string; before?: string }) => {
      const query = new URLSearchParams({ limit: String(flags.limit) });
      if (flags.action) query.set('action', flags.action);
      if (flags.actor) query.set('actor', flags.actor);
      if (flags.before) query.set('before', flags.before);
      const page = await clientFor(flags).request<AuditPage>('GET', `/api/v1/audit?${query}`);
      printResult(page, {
        json: flags.json,
        rows: page.entries.map((e) => ({ ...e, at: formatTime(e.at) })),
        columns: ['at', 'actor', 'action', 'target', 'before', 'after'],
        empty: 'no audit entries',
      });
      if (!flags.json && page.next) process.stdout.write(`More: --before ${page.next}\n`);
    });
}

export function registerAccountsCommands(program: Command): void {
  registerLogin(program);
  registerUser(program);
  registerToken(program);
  registerAudit(program);
}
