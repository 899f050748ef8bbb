// An agent host installs @flotilla/cli without @flotilla/server: every command still starts, and
// those that need the control plane say what to install. The CLI runs as a user would, with the
// server package made unresolvable by a resolve hook.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runCli } from '../src/run-cli.test.helper.ts';
import { installServerHint, isServerMissing, loadServer } from '../src/server-package.ts';

const withoutServer = { NODE_OPTIONS: `--import=${new URL('./support/without-server.mjs', import.meta.url).href}` };
const missing = (what: string) => `flotilla: ${what} needs the control plane: ${installServerHint}\n`;

describe('@flotilla/cli without @flotilla/server', () => {
  it('depends on the server only as an optional peer, and never on the dashboard', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    expect(Object.keys(pkg.dependencies)).not.toContain('@flotilla/server');
    expect(Object.keys(pkg.dependencies)).not.toContain('@flotilla/dashboard');
    expect(pkg.peerDependencies['@flotilla/server']).toBe(pkg.version);
    expect(pkg.peerDependenciesMeta['@flotilla/server']).toEqual({ optional: true });
  });

  it('shows its help, listing the server as not installed', async () => {
    const run = await runCli(['--help'], { env: withoutServer });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    // Help wraps long lines: compare with the white space folded.
    const help = run.stdout.replace(/\s+/g, ' ');
    expect(help).toContain('server run the control plane (check-in service, API): not installed here');
    expect(help).toContain('agent [options] run the host agent');
  });

  it('answers `flotilla server`, with or without options, with what to install (exit 2)', async () => {
    for (const args of [['server'], ['server', '--port', '9000', '--data-dir', './data']]) {
      const run = await runCli(args, { env: withoutServer });
      expect(run.stderr).toBe(missing('flotilla server'));
      expect(run.status).toBe(2);
    }
    const help = await runCli(['server', '--help'], { env: withoutServer });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain(`Not installed on this host: ${installServerHint}`);
  });

  it('answers the commands that work on the store directly with what to install (exit 2)', async () => {
    const user = await runCli(['user', 'add', 'root', '--role', 'admin', '--data-dir', '/nonexistent/flotilla-data'], {
      env: withoutServer,
    });
    expect(user.stderr).toBe(missing('working on the store with --data-dir or --database'));
    expect(user.status).toBe(2);
    const token = await runCli(['token', 'create', '--admin', '--database', 'postgres://127.0.0.1:1/x'], {
      env: withoutServer,
    });
    expect(token.stderr).toBe(missing('working on the store with --data-dir or --database'));
    expect(token.status).toBe(2);
  });

  it('runs the API commands, which need no server code', async () => {
    // Port 1 refuses the connection: the command got as far as calling the API.
    const run = await runCli(['logs', 'web', '--since', '1h30m', '--server', 'http://127.0.0.1:1', '--token', 't'], {
      env: withoutServer,
    });
    expect(run.stderr).toMatch(/127\.0\.0\.1:1/);
    expect(run.stderr).not.toContain('control plane');
    expect(run.status).toBe(1);
  });

  it('shows the server options when the server is installed (the hook is what removes it)', async () => {
    const help = await runCli(['server', '--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--port');
    expect(help.stdout).not.toContain('Not installed');
  });
});

describe('loading the server', () => {
  it('turns only a missing @flotilla/server into the clear error; a missing dependency of it stays itself', async () => {
    const notFound = (name: string) =>
      Object.assign(new Error(`Cannot find package '${name}' imported from /x/dist/index.js`), {
        code: 'ERR_MODULE_NOT_FOUND',
      });
    expect(isServerMissing(notFound('@flotilla/server'))).toBe(true);
    await expect(
      loadServer('flotilla server', () => Promise.reject(notFound('@flotilla/server'))),
    ).rejects.toMatchObject({ exitCode: 2, message: `flotilla server needs the control plane: ${installServerHint}` });
    const fastify = notFound('fastify');
    await expect(loadServer('flotilla server', () => Promise.reject(fastify))).rejects.toBe(fastify);
    await expect(loadServer('flotilla server', () => Promise.resolve(42))).resolves.toBe(42);
  });
});
