import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openDatabase } from '@flotilla/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, postgresUrl } from '../../server/test/support/databases.ts';
import { startTestServer, type TestServer } from '../../server/test/support/server.ts';
import { makeTempDir } from '../../server/test/support/temp-dir.ts';
import { runCli } from './run-cli.test.helper.ts';

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], opts: { env?: Record<string, string>; input?: string } = {}): Promise<Run> {
  return runCli(args, {
    input: opts.input,
    env: { FLOTILLA_SERVER: undefined, FLOTILLA_TOKEN: undefined, ...opts.env },
  });
}

describe('flotilla accounts commands', () => {
  const dir = makeTempDir('flotilla-cli-accounts-');
  const config = makeTempDir('flotilla-cli-config-');
  const env = { XDG_CONFIG_HOME: config };
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer('sqlite', { database: join(dir, 'flotilla.db') }, { dir });
    // The first admin is created offline, against the store the server made at its first start.
    const added = await run(['user', 'add', 'root', '--role', 'admin', '--data-dir', dir, '--password-stdin'], {
      input: 'the root password\n',
    });
    expect(added.stderr).toBe('');
    expect(added.status).toBe(0);
    expect(added.stdout).toContain('Created user root (admin)');
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('logs in with the offline-created user and says who it is', async () => {
    const wrong = await run(['login', '--server', server.url, '--user', 'root', '--password-stdin'], {
      env,
      input: 'not the password\n',
    });
    expect(wrong.status).not.toBe(0);
    expect(wrong.stderr).toContain('login failed');

    const login = await run(['login', '--server', server.url, '--user', 'root', '--password-stdin'], {
      env,
      input: 'the root password\n',
    });
    expect(login.stderr).toBe('');
    expect(login.stdout).toContain('as root (admin)');
    const saved = JSON.parse(readFileSync(join(config, 'flotilla', 'login.json'), 'utf8'));
    expect(saved).toMatchObject({ server: server.url });
    expect(saved.token).toMatch(/^flt_/);

    const me = await run(['whoami', '--json'], { env });
    expect(me.status).toBe(0);
    expect(JSON.parse(me.stdout)).toMatchObject({ user: 'root', role: 'admin', kind: 'personal' });
  });

  it('generates a password when none is given and manages users through the API', async () => {
    const added = await run(['user', 'add', 'dev', '--role', 'developer', '--json'], { env });
    expect(added.status).toBe(0);
    const out = JSON.parse(added.stdout);
    expect(out.user).toMatchObject({ name: 'dev', role: 'developer' });
    expect(out.password.length).toBeGreaterThanOrEqual(24);

    const devConfig = makeTempDir('flotilla-cli-dev-');
    const devLogin = await run(['login', '--server', server.url, '--user', 'dev', '--password-stdin'], {
      env: { XDG_CONFIG_HOME: devConfig },
      input: out.password,
    });
    expect(devLogin.stdout).toContain('as dev (developer)');

    expect((await run(['user', 'set-role', 'dev', 'viewer'], { env })).stdout).toMatch(/dev\s+viewer/);
    expect((await run(['user', 'disable', 'dev'], { env })).stdout).toMatch(/dev\s+viewer\s+yes/);
    const list = await run(['user', 'list', '--json'], { env });
    expect(JSON.parse(list.stdout).map((u: { name: string }) => u.name)).toEqual(['dev', 'root']);
    const refused = await run(['whoami'], { env: { XDG_CONFIG_HOME: devConfig } });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toBe('flotilla: the user "dev" is disabled\n');
    const verbose = await run(['whoami', '--verbose'], { env: { XDG_CONFIG_HOME: devConfig } });
    expect(verbose.stderr).toBe('flotilla: GET /api/v1/whoami → 401: the user "dev" is disabled\n');
  });

  it('refuses an agent token for an environment or profile that does not exist, instead of issuing it', async () => {
    const missing = await run(['token', 'create', '--agent', '--env', 'production'], { env });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toBe('flotilla: environment "production" not found\n');
    expect((await run(['env', 'create', 'production'], { env })).status).toBe(0);
    const noProfile = await run(['token', 'create', '--agent', '--env', 'production', '--profile', 'eu'], { env });
    expect(noProfile.stderr).toBe('flotilla: profile "eu" not found\n');
    expect((await run(['service', 'create', 'web'], { env })).status).toBe(0);
    expect((await run(['profile', 'set', 'eu', 'web'], { env })).status).toBe(0);
  });

  it('creates, lists and revokes tokens with --json, and shows the audit log', async () => {
    const created = await run(['token', 'create', '--agent', '--env', 'production', '--profile', 'eu', '--json'], {
      env,
    });
    expect(created.stderr).toBe('');
    const { token, info } = JSON.parse(created.stdout);
    expect(token).toMatch(/^flt_/);
    expect(info).toMatchObject({
      kind: 'agent',
      name: 'agent-production-eu',
      environment: 'production',
      profile: 'eu',
    });

    const agentMe = await run(['whoami', '--json', '--server', server.url, '--token', token]);
    expect(JSON.parse(agentMe.stdout)).toMatchObject({ role: 'agent', environment: 'production' });

    const list = await run(['token', 'list', '--json'], { env });
    expect(list.stdout).not.toContain(token);
    expect(JSON.parse(list.stdout).map((t: { id: string }) => t.id)).toContain(info.id);

    const revoked = await run(['token', 'revoke', info.id, '--json'], { env });
    expect(JSON.parse(revoked.stdout).revokedAt).toBeTruthy();
    const after = await run(['whoami', '--server', server.url, '--token', token]);
    expect(after.status).toBe(1);

    const audit = await run(['audit', '--action', 'token.revoke', '--json'], { env });
    const entries = JSON.parse(audit.stdout).entries;
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ actor: 'root', target: `token:${info.id}` });
    const table = await run(['audit', '--limit', '2'], { env });
    expect(table.stdout).toMatch(/^AT\s+ACTOR\s+ACTION/);
    expect(table.stdout.split('\n')[1]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}root /);
    const tokens = await run(['token', 'list'], { env });
    expect(tokens.stdout).toMatch(
      /^ID\s+NAME\s+KIND\s+ROLE\s+USER\s+ENVIRONMENT\s+PROFILE\s+LAST USED\s+EXPIRES\s+REVOKED\n/,
    );
    expect(tokens.stdout).toMatch(
      /agent-production-eu\s+agent\s+agent\s+production\s+eu\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/,
    );
    expect(table.stdout).toContain('More: --before ');
  });

  it('prints a new token the same way whether made through the API or against the store', async () => {
    const personal = await run(['token', 'create', '--name', 'laptop', '--expires-in-days', '30'], { env });
    expect(personal.stderr).toBe('');
    expect(personal.stdout).toMatch(
      /^Created personal token "laptop" \(id [\w-]+\), shown only this once:\ntoken: flt_\S+\n$/,
    );
    const admin = await run([
      'token',
      'create',
      '--admin',
      '--data-dir',
      dir,
      '--name',
      'ops',
      '--expires-in-days',
      '7',
    ]);
    expect(admin.stderr).toBe('');
    expect(admin.stdout).toMatch(
      /^Created admin token "ops" \(id [\w-]+\), shown only this once:\nadmin token: flt_\S+\n$/,
    );
    const quiet = await run(['token', 'create', '--admin', '--data-dir', dir, '--quiet']);
    expect(quiet.stdout).toMatch(/^flt_\S+\n$/);
    const me = await run(['whoami', '--json', '--server', server.url, '--token', quiet.stdout.trim()]);
    expect(JSON.parse(me.stdout)).toMatchObject({ kind: 'admin', role: 'admin' });

    for (const args of [
      ['token', 'create', '--expires-in-days', '0'],
      ['token', 'create', '--admin', '--data-dir', dir, '--expires-in-days', '1.5'],
    ]) {
      const bad = await run(args, { env });
      expect(bad.status).toBe(2);
      expect(bad.stderr).toMatch(/^flotilla: --expires-in-days takes a whole number 1 or more; got "[\d.]+"\n$/);
    }
  });

  it('refuses to work offline on a store that does not exist, and creates none', async () => {
    const misspelt = join(dir, 'no-such-dir');
    const noDir = await run(['token', 'create', '--admin', '--data-dir', misspelt]);
    expect(noDir.status).toBe(2);
    expect(noDir.stdout).toBe('');
    expect(noDir.stderr).toContain(
      `no store at ${join(misspelt, 'flotilla.db')}: check that --data-dir is the data dir`,
    );
    const noFile = await run(
      ['user', 'add', 'ops', '--role', 'admin', '--database', join(dir, 'flotila.db'), '--password-stdin'],
      {
        input: 'the ops password\n',
      },
    );
    expect(noFile.status).toBe(2);
    expect(noFile.stderr).toContain(`no store at ${join(dir, 'flotila.db')}: check that --database is the SQLite file`);
    expect(existsSync(misspelt)).toBe(false);
    expect(existsSync(join(dir, 'flotila.db'))).toBe(false);

    // A file that is there but was never a server's store is refused too, and left as it was.
    const other = join(dir, 'other.db');
    writeFileSync(other, '');
    const notOurs = await run(['token', 'create', '--admin', '--database', other]);
    expect(notOurs.status).toBe(2);
    expect(notOurs.stderr).toContain(
      `no Flotilla store in SQLite ${other}: check that --database is the SQLite file the server uses`,
    );
    expect(statSync(other).size).toBe(0);
  });

  it.skipIf(!postgresUrl)(
    'refuses a PostgreSQL database the server never set up, and writes nothing to it',
    async () => {
      const empty = await createTestDatabase('postgres');
      try {
        const r = await run(['token', 'create', '--admin', '--database', empty.location]);
        expect(r.status).toBe(2);
        expect(r.stderr).toContain('no Flotilla store in PostgreSQL postgres://');
        expect(r.stderr).toContain('check that --database is the URL the server uses');
        expect(r.stderr).not.toContain(`:${new URL(empty.location).password}@`);
        const store = openDatabase(empty.location);
        try {
          expect(await store.db.introspection.getTables({ withInternalKyselyTables: true })).toEqual([]);
        } finally {
          await store.close();
        }
      } finally {
        await empty.drop();
      }
    },
  );

  it('refuses an agent token without an environment and bad arguments with one line', async () => {
    const r = await run(['token', 'create', '--agent'], { env });
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe('flotilla: an agent token needs --env <environment>');
    expect(existsSync(join(config, 'flotilla', 'login.json'))).toBe(true);
  });

  it('limits how many instances an agent token enrols, lists identities and revokes one', async () => {
    const args = ['token', 'create', '--agent', '--env', 'production', '--name', 'fleet-2', '--max-instances', '2'];
    const created = await run([...args, '--json'], { env });
    expect(created.stderr).toBe('');
    const { token, info } = JSON.parse(created.stdout);
    expect(info).toMatchObject({ kind: 'agent', maxInstances: 2 });
    const enrol = async (instanceId: string) =>
      (
        await fetch(`${server.url}/api/v1/agent/enroll`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ instanceId }),
        })
      ).status;
    expect(await enrol('cli-1')).toBe(201);
    expect(await enrol('cli-2')).toBe(201);
    expect(await enrol('cli-3')).toBe(403);
    const listed = await run(['instance', 'identities', '--env', 'production'], { env });
    expect(listed.stderr).toBe('');
    expect(listed.stdout).toMatch(/^INSTANCE\s+ENVIRONMENT\s+PROFILE\s+TOKEN/);
    expect(listed.stdout).toMatch(/cli-1\s+production\s+fleet-2/);
    const revoked = await run(['instance', 'revoke', 'cli-1'], { env });
    expect(revoked.stdout).toBe('Revoked the identity of instance "cli-1" (production).\n');
    expect(await enrol('cli-3')).toBe(201);
    const unknown = await run(['instance', 'revoke', 'nobody'], { env });
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toBe('flotilla: instance "nobody" is not enrolled\n');
    const notAgent = await run(['token', 'create', '--max-instances', '2'], { env });
    expect(notAgent.status).toBe(2);
    expect(notAgent.stderr.trim()).toBe('flotilla: --env, --profile and --max-instances need --agent');
    expect((await run([...args.slice(0, -1), '0'], { env })).status).toBe(2);
  });
});
