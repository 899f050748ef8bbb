import { afterAll, describe, expect, it } from 'vitest';
import { type SpawnedServer, spawnServer } from '../../server/test/support/spawn-server.ts';
import { makeTempDir } from '../../server/test/support/temp-dir.ts';
import { runCli } from './run-cli.test.helper.ts';

const noToken = { FLOTILLA_ADMIN_TOKEN: '', FLOTILLA_LOG_FORMAT: '' };

async function outputUntil(server: SpawnedServer, text: string): Promise<string> {
  for (let waited = 0; !server.output().includes(text); waited += 50) {
    if (waited > 20_000) throw new Error(`no "${text}" in:\n${server.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return server.output();
}

const lineValue = (output: string, prefix: string) =>
  output
    .split('\n')
    .find((l) => l.startsWith(prefix))
    ?.slice(prefix.length);

describe('flotilla server at its first start', () => {
  const dir = makeTempDir('flotilla-cli-banner-');
  let server: SpawnedServer | null = null;
  const stop = async () => {
    server?.child.kill('SIGTERM');
    await server?.exited;
    server = null;
  };
  afterAll(stop);

  it('prints one block with the real URL, a setup code and the admin token, each on a line of its own', async () => {
    server = await spawnServer(['--data-dir', dir, '--geodb', 'off'], noToken);
    const out = await outputUntil(server, 'Lost the admin token?');
    expect(lineValue(out, 'url: ')).toBe(`${server.url}/`);
    expect(lineValue(out, 'setup code: ')).toMatch(/^[2-9A-HJKMNP-TW-Z]{4}(-[2-9A-HJKMNP-TW-Z]{4}){2}$/);
    const token = lineValue(out, 'admin token: ') as string;
    expect(token).toMatch(/^flt_[\w-]{40,}$/);
    expect(out).toContain(`flotilla login --server ${server.url} --token ${token}`);
    expect(out).toContain(`flotilla token create --admin --data-dir ${dir}`);

    // The URL is the one that answers, and the token works there.
    expect((await fetch(`${lineValue(out, 'url: ')}`)).status).toBe(200);
    const me = await fetch(`${server.url}/api/v1/whoami`, { headers: { authorization: `Bearer ${token}` } });
    expect(await me.json()).toMatchObject({ kind: 'admin', role: 'admin' });
    expect(await (await fetch(`${server.url}/api/v1/setup`)).json()).toEqual({ state: 'pending' });
  });

  it('logs only JSON lines to stdout when it is not a terminal, the block going to stderr', () => {
    const stdout = (server as SpawnedServer).stdout();
    const logLines = stdout.split('\n').filter((l) => l !== '');
    expect(logLines.length).toBeGreaterThan(2);
    for (const line of logLines) expect(JSON.parse(line)).toHaveProperty('msg');
    expect(stdout).not.toContain('setup code:');
    expect((server as SpawnedServer).output()).toContain('setup code:');
    expect((server as SpawnedServer).output()).not.toContain('.sock');
    expect((server as SpawnedServer).output()).not.toContain('Server listening at');
  });

  it('makes another admin token against the data dir when the first one is lost', async () => {
    const refused = await runCli(['token', 'create', '--admin']);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('add --data-dir <dir> or --database <url>');
    const made = await runCli(['token', 'create', '--admin', '--data-dir', dir, '--name', 'recovered']);
    expect(made.stderr).toBe('');
    const token = lineValue(made.stdout, 'admin token: ') as string;
    expect(token).toMatch(/^flt_/);
    const me = await fetch(`${(server as SpawnedServer).url}/api/v1/whoami`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(await me.json()).toMatchObject({ name: 'recovered', kind: 'admin', role: 'admin' });
  });

  it('prints a new setup code but no new token at a restart while no user exists, in pretty lines if asked', async () => {
    const first = lineValue((server as SpawnedServer).output(), 'setup code: ');
    await stop();
    server = await spawnServer(['--data-dir', dir, '--geodb', 'off', '--log-format', 'pretty'], noToken);
    const out = await outputUntil(server, 'Lost the admin token?');
    const second = lineValue(out, 'setup code: ');
    expect(second).toMatch(/^[2-9A-Z-]{14}$/);
    expect(second).not.toBe(first);
    expect(out).not.toContain('admin token:');
    expect(out).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: flotilla server listening \{"url":"http/m);
    expect(out).not.toMatch(/^\{"level"/m);
    // With pretty lines, the block sits among them on stdout, after the listening line.
    const stdout = (server as SpawnedServer).stdout();
    expect(stdout.indexOf('setup code: ')).toBeGreaterThan(stdout.indexOf('flotilla server listening'));
  });
});
