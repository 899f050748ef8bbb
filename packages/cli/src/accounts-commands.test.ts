import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
    // The first admin is created offline, before the server ever starts.
    const added = await run(['user', 'add', 'root', '--role', 'admin', '--data-dir', dir, '--password-stdin'], {
      input: 'the root password\n',
    });
    expect(added.stderr).toBe('');
    expect(added.status).toBe(0);
    expect(added.stdout).toContain('Created user root (admin)');
    server = await startTestServer('sqlite', { database: join(dir, 'flotilla.db') }, { dir });
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

  it('refuses an agent token without an environment and bad arguments with one line', async () => {
    const r = await run(['token', 'create', '--agent'], { env });
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe('flotilla: an agent token needs --env <environment>');
    expect(existsSync(join(config, 'flotilla', 'login.json'))).toBe(true);
  });
});
