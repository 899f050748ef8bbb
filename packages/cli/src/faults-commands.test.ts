import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { faultMeta, makeFaultArchive } from '../../server/src/faults/archive.test.helper.ts';
import { agentCredentialFor } from '../../server/test/support/agent-credential.ts';
import { adminToken, startTestServer, type TestServer } from '../../server/test/support/server.ts';
import { makeTempDir } from '../../server/test/support/temp-dir.ts';
import { sinceTime } from './commands/faults.ts';
import { runCli } from './run-cli.test.helper.ts';

describe('faults helpers', () => {
  it('turns --since into a time', () => {
    const now = Date.parse('2026-03-10T00:00:00Z');
    expect(sinceTime('7d', now)).toBe('2026-03-03T00:00:00.000Z');
    expect(sinceTime('90m', now)).toBe('2026-03-09T22:30:00.000Z');
    expect(sinceTime('2026-03-01T00:00:00+01:00', now)).toBe('2026-02-28T23:00:00.000Z');
    expect(() => sinceTime('soon', now)).toThrow(/--since/);
  });
});

// The server runs in this process, so the CLI runs asynchronously (spawnSync would block the server).
describe('flotilla faults commands', () => {
  let server: TestServer;
  let env: Record<string, string>;
  let cwd: string;
  const ids: string[] = [];
  let firstFile: string;
  const run = (args: string[]) => runCli(args, { env });

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    env = {
      FLOTILLA_SERVER: server.url,
      FLOTILLA_TOKEN: adminToken,
      XDG_CONFIG_HOME: makeTempDir('flotilla-cli-faults-'),
    };
    cwd = makeTempDir('flotilla-cli-faults-out-');
    const auth = { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' };
    await fetch(`${server.url}/api/v1/environments`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ name: 'prod' }),
    });
    const minted = await fetch(`${server.url}/api/v1/tokens`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ kind: 'agent', name: 'agent', environment: 'prod' }),
    });
    const agent = ((await minted.json()) as { token: string }).token;
    const specs = [
      {
        meta: faultMeta({
          service: 'web',
          instanceId: 'h1',
          time: new Date(Date.now() - 10 * 86_400_000).toISOString(),
        }),
      },
      {
        meta: faultMeta({ service: 'web', instanceId: 'h2', time: new Date(Date.now() - 3600_000).toISOString() }),
        logTail: 'boot\npanic: out of cheese\n',
      },
      {
        meta: faultMeta({
          service: 'api',
          instanceId: 'h1',
          signal: 'SIGSEGV',
          exitCode: null,
          time: new Date().toISOString(),
        }),
      },
    ];
    for (const spec of specs) {
      const file = await makeFaultArchive(spec);
      firstFile ??= file;
      const res = await fetch(`${server.url}/api/v1/agent/faults`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${await agentCredentialFor(server.url, agent, String((spec.meta as { instanceId: string }).instanceId))}`,
          'content-type': 'application/gzip',
        },
        body: readFileSync(file),
      });
      expect(res.status).toBe(201);
      ids.push(((await res.json()) as { id: string }).id);
    }
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('lists with filters, as a table and as JSON', async () => {
    const table = await run(['faults', 'list']);
    expect(table.status, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^ID\s+TIME\s+ENVIRONMENT\s+INSTANCE\s+SERVICE\s+VERSION\s+REASON\s+EXIT\s+SIZE/);
    expect(table.stdout).toContain('SIGSEGV');
    const lines = table.stdout.trim().split('\n');
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual([ids[2], ids[1], ids[0]]);

    const web = JSON.parse((await run(['faults', 'list', '--service', 'web', '--json'])).stdout);
    expect(web.faults.map((f: { id: string }) => f.id)).toEqual([ids[1], ids[0]]);
    const recent = JSON.parse((await run(['faults', 'list', '--service', 'web', '--since', '7d', '--json'])).stdout);
    expect(recent.faults.map((f: { id: string }) => f.id)).toEqual([ids[1]]);
    const h1 = JSON.parse((await run(['faults', 'list', '--instance', 'h1', '--limit', '1', '--json'])).stdout);
    expect(h1.faults.map((f: { id: string }) => f.id)).toEqual([ids[2]]);
    const bad = await run(['faults', 'list', '--since', 'whenever']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--since');
    const badLimit = await run(['faults', 'list', '--limit', '0']);
    expect(badLimit.status).toBe(2);
    expect(badLimit.stderr).toBe('flotilla: --limit takes a whole number 1 or more; got "0"\n');
  });

  it('shows a report with its state and log tail', async () => {
    const shown = await run(['faults', 'show', ids[1] as string]);
    expect(shown.status, shown.stderr).toBe(0);
    expect(shown.stdout).toContain(`fault ${ids[1]}`);
    expect(shown.stdout).toContain('web 1.2.0 on h2 in prod');
    expect(shown.stdout).toContain('exit code 3');
    expect(shown.stdout).toContain('"restarts": 2');
    expect(shown.stdout).toContain('log tail (2 lines):\nboot\npanic: out of cheese');
    const json = JSON.parse((await run(['faults', 'show', ids[1] as string, '--json'])).stdout);
    expect(json.logTail).toEqual(['boot', 'panic: out of cheese']);
    const missing = await run(['faults', 'show', 'nope']);
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toMatch(/^flotilla: .*nope/);
    const verbose = await run(['faults', 'show', 'nope', '--verbose']);
    expect(verbose.stderr).toMatch(/^flotilla: GET \/api\/v1\/faults\/nope → 404: /);
  });

  it('downloads an archive, refusing to overwrite without --force', async () => {
    const id = ids[0] as string;
    const out = join(cwd, 'first.tar.gz');
    const got = await run(['faults', 'download', id, '-o', out]);
    expect(got.status, got.stderr).toBe(0);
    expect(got.stdout).toContain('verified');
    expect(readFileSync(out).equals(readFileSync(firstFile))).toBe(true);

    writeFileSync(out, 'keep me');
    const refused = await run(['faults', 'download', id, '-o', out]);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain('--force');
    expect(readFileSync(out, 'utf8')).toBe('keep me');
    expect((await run(['faults', 'download', id, '-o', out, '--force'])).status).toBe(0);
    expect(readFileSync(out).equals(readFileSync(firstFile))).toBe(true);
  });

  it('names the download after the service and id by default, in the current directory', async () => {
    const id = ids[2] as string;
    // runCli runs in this process's directory; this run needs its own.
    const main = fileURLToPath(new URL('./main.ts', import.meta.url));
    const status = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(process.execPath, ['--conditions=@flotilla/source', main, 'faults', 'download', id], {
        cwd,
        env: { ...process.env, ...env },
        stdio: 'ignore',
      });
      const timer = setTimeout(() => child.kill(), 30_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
    expect(status).toBe(0);
    expect(existsSync(join(cwd, `fault-api-${id}.tar.gz`))).toBe(true);
  });
});
