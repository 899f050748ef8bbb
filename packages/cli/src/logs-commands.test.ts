import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentCredentialFor } from '../../server/test/support/agent-credential.ts';
import { adminToken, startTestServer, type TestServer } from '../../server/test/support/server.ts';
import { makeTempDir } from '../../server/test/support/temp-dir.ts';
import { logQuery } from './commands/logs.ts';
import { parseSse } from './event-stream.ts';
import { runCli } from './run-cli.test.helper.ts';

describe('logs helpers', () => {
  it('parses server-sent-event frames and keeps the incomplete tail', () => {
    const { frames, rest } = parseSse(': connected\n\nevent: line\ndata: {"a":1}\n\nevent: dropped\r\ndata: {"dr');
    expect(frames).toEqual([
      { event: ':', data: '' },
      { event: 'line', data: '{"a":1}' },
    ]);
    expect(rest).toBe('event: dropped\ndata: {"dr');
  });

  it('builds the query and refuses bad flags', () => {
    const now = Date.parse('2030-01-01T01:00:00Z');
    const q = logQuery('web', { since: '1h', level: 'warn', grep: '50%', instance: 'h1' }, now);
    expect(Object.fromEntries(q)).toEqual({
      service: 'web',
      instance: 'h1',
      level: 'warn',
      from: '2030-01-01T00:00:00.000Z',
      q: '50%',
    });
    expect(() => logQuery(undefined, { level: 'loud' })).toThrow(/--level/);
    expect(() => logQuery(undefined, { since: '1h', from: '2030-01-01T00:00:00Z' })).toThrow(/not both/);
    expect(() => logQuery(undefined, { since: 'soon' })).toThrow(/--since/);
    expect(() => logQuery(undefined, { to: 'tomorrow' })).toThrow(/--to/);
  });
});

describe('flotilla logs', () => {
  let server: TestServer;
  let env: Record<string, string>;
  let agentToken: string;
  const run = (args: string[]) => runCli(args, { env });
  const upload = async (lines: Array<Record<string, unknown>>) => {
    const res = await fetch(`${server.url}/api/v1/agent/logs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${agentToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        instanceId: 'host-1',
        lines: lines.map((l) => ({ service: 'web', level: 'info', unit: 'http', stream: 'stdout', ...l })),
      }),
    });
    expect(res.status).toBe(200);
  };

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    env = {
      FLOTILLA_SERVER: server.url,
      FLOTILLA_TOKEN: adminToken,
      XDG_CONFIG_HOME: makeTempDir('flotilla-cli-logs-'),
    };
    expect((await run(['env', 'create', 'prod'])).status).toBe(0);
    const res = await fetch(`${server.url}/api/v1/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'agent', name: 'agent', environment: 'prod' }),
    });
    // The credential of host-1, the instance every upload here speaks for.
    agentToken = await agentCredentialFor(server.url, ((await res.json()) as { token: string }).token, 'host-1');
    const base = Date.now() - 600_000;
    await upload([
      { time: new Date(base).toISOString(), message: 'started' },
      { time: new Date(base + 1000).toISOString(), message: 'disk 90% full', level: 'warn' },
      { time: new Date(base + 2000).toISOString(), message: 'api up', service: 'api' },
      { time: new Date(base - 7_200_000).toISOString(), message: 'two hours ago' },
      { time: new Date(base + 3000).toISOString(), message: 'cannot bind', level: 'error', version: '3.0.0' },
    ]);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('prints matching lines oldest first', async () => {
    const out = await run(['logs', 'web', '--since', '1h']);
    expect(out.status, out.stderr).toBe(0);
    const lines = out.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toMatch(/ error host-1 web@3\.0\.0 http cannot bind$/);
    const failed = await run(['logs', 'web', '--service-version', '3.0.0']);
    expect(failed.stdout.trim().split('\n'), failed.stderr).toEqual([lines[2]]);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\S+Z info {2}host-1 web http started$/);
    expect(lines[1]).toMatch(/ warn {2}host-1 web http disk 90% full$/);

    const json = await run(['logs', '--grep', '90%', '--json']);
    expect(json.status, json.stderr).toBe(0);
    const records = json.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ message: 'disk 90% full', environment: 'prod', level: 'warn' });

    const all = await run(['logs', '--limit', '10']);
    expect(all.stdout).toContain('two hours ago');
    const bad = await run(['logs', '--level', 'loud']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--level');
  });

  it('says so when there are no lines, rather than printing nothing', async () => {
    const none = await run(['logs', 'db']);
    expect(none.status, none.stderr).toBe(0);
    expect(none.stdout).toBe('');
    expect(none.stderr).toBe('no lines yet from db\n');
    const limited = await run(['logs', 'db', '--limit', '5']);
    expect(limited.stderr).toBe('no lines yet from db\n');
    const unmatched = await run(['logs', 'web', '--grep', 'no such text']);
    expect(unmatched.stderr).toBe('no lines match\n');
  });

  it('follows: prints the recent lines, then new matching ones', async () => {
    const main = fileURLToPath(new URL('./main.ts', import.meta.url));
    const child = spawn(process.execPath, ['--conditions=@flotilla/source', main, 'logs', 'web', '--follow'], {
      env: { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    // One listener for the whole run: output that arrives while no one waits must not be lost.
    const waiters = new Set<() => void>();
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      for (const check of [...waiters]) check();
    });
    const waitFor = (pattern: RegExp) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no ${pattern} in:\n${stdout}\n${stderr}`));
        }, 20_000);
        const check = () => {
          if (!pattern.test(stdout)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
        check();
      });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      await waitFor(/disk 90% full/);
      expect(stdout).toContain('started');
      await upload([
        { time: new Date().toISOString(), message: 'not for web', service: 'api' },
        { time: new Date().toISOString(), message: 'fresh line' },
      ]);
      await waitFor(/fresh line/);
      expect(stdout).not.toContain('not for web');
      expect(stdout.indexOf('started')).toBeLessThan(stdout.indexOf('fresh line'));
    } finally {
      child.kill();
      await exited;
    }
  });
});
