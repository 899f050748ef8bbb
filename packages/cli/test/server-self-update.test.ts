// docs/self-update.md, run as written: its shell blocks in order in one bash session, with real
// processes on loopback. The server is started by hand, publishes itself, a `flotilla agent` takes
// it over, updates it to 1.0.1 and rolls a broken 1.0.2 back; then a 1.0.3 that migrates and fails
// shows what the page says of schemas. Port 8314 becomes a free one, /var/lib/ a temporary
// directory; the blocks that install the release bundle from the registry are replaced by a
// `node_modules/.bin/flotilla` that runs this clone's `bin/flotilla`.
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { markedProcesses } from '../../agent/src/update/orphans.ts';
import { eventually, freePort, watchAvailability } from './agent-e2e.test.helper.ts';
import { processesIn, type ReadmeBlock, refusedLines, ShellSession, shellBlocks } from './readme-shell.test.helper.ts';

const repo = fileURLToPath(new URL('../../../', import.meta.url)).replace(/\/$/, '');
const doc = readFileSync(join(repo, 'docs/self-update.md'), 'utf8');
const blocks = shellBlocks(doc);
const docLines = doc.split('\n');

let root = '';
let serverPort = 0;
let shell: ShellSession;
let signingKeyId = '';
let availability: ReturnType<typeof watchAvailability> | null = null;
const measured: string[] = [];

const agentDir = () => join(root, 'var/flotilla-agent');
const serviceDir = () => join(agentDir(), 'services/flotilla-server');

/** A block preceded by `<!-- self-update-test: package -->` installs the release bundle. */
function isPackageBlock(block: ReadmeBlock): boolean {
  let i = block.line - 3; // the line before the opening fence
  while (i >= 0 && docLines[i]?.trim() === '') i--;
  return docLines[i]?.trim() === '<!-- self-update-test: package -->';
}

/** The directories a package block installs into, each given a `flotilla` that runs this clone. */
function stubPackage(text: string): void {
  const dirs = [...text.matchAll(/--prefix (\S+)/g)].map((m) => m[1] as string);
  expect(dirs.length).toBeGreaterThan(0);
  const cwd = join(root, 'work');
  for (const dir of dirs) {
    const bin = join(cwd, dir, 'node_modules/.bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'flotilla'), `#!/bin/sh\nexec ${join(repo, 'bin/flotilla')} "$@"\n`);
    chmodSync(join(bin, 'flotilla'), 0o755);
  }
}

/** The API as the walkthrough's admin token calls it, on the managed server. */
async function api<T>(path: string): Promise<T> {
  const token = (await shell.run('echo "$TOKEN"', 5000)).stdout.trim();
  const res = await fetch(`http://127.0.0.1:${serverPort}${path}`, {
    headers: { authorization: `Bearer ${token}` },
  }).catch((err: Error) => {
    throw new Error(`${path}: ${err.message} (${(err.cause as Error | undefined)?.message})`);
  });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

interface ServiceReport {
  service: string;
  version: string | null;
  state: string | null;
  updateError?: string | null;
}

async function serverReport(): Promise<ServiceReport | undefined> {
  const { instances } = await api<{ instances: Array<{ services: ServiceReport[] }> }>(
    '/api/v1/instances?environment=control-plane',
  );
  return instances[0]?.services.find((s) => s.service === 'flotilla-server');
}

const reportOf = (version: string, error?: RegExp) => async () => {
  const s = await serverReport();
  if (s?.version !== version || s.state !== 'running') return undefined;
  if (error && !error.test(s.updateError ?? '')) return undefined;
  return s;
};

/** Exactly one process of the service runs, in the directory of `version`, which `current` names. */
function expectOneServer(version: string): void {
  expect(readlinkSync(join(serviceDir(), 'current'))).toMatch(new RegExp(`${version.replaceAll('.', '\\.')}$`));
  const pids = markedProcesses(serviceDir()).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes('server');
    } catch {
      return false;
    }
  });
  expect(pids).toHaveLength(1);
  expect(realpathSync(`/proc/${pids[0]}/cwd`)).toBe(realpathSync(join(serviceDir(), 'versions', version)));
}

async function keyIdNow(): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${serverPort}/api/v1/signing-key`);
  return ((await res.json()) as { keyId: string }).keyId;
}

/** What must hold before a block runs, where the text says "within a few seconds". */
const before: Array<[RegExp, () => Promise<unknown>]> = [
  [
    /flotilla-server 1\.0\.1, ok/,
    async () => {
      await eventually('the agent to report 1.0.1 running', reportOf('1.0.1'), 60_000);
      const gap = await availability?.stop();
      availability = null;
      measured.push(`longest gap in the server's answers during the update to 1.0.1: ${gap} ms`);
      // The old process stopped before the new one took the port: a real restart, and a short one.
      expect(gap).toBeGreaterThan(500);
      expect(gap).toBeLessThan(30_000);
    },
  ],
  [
    /rolled back to 1\.0\.1/,
    () => eventually('the agent to report the rollback of 1.0.2', reportOf('1.0.1', /rolled back to 1\.0\.1/), 60_000),
  ],
  [
    /--service-version 1\.0\.2/,
    () =>
      eventually('the failed version’s output in the log store', async () => {
        const { lines } = await api<{ lines: Array<{ message: string }> }>(
          '/api/v1/logs?service=flotilla-server&version=1.0.2',
        );
        return lines.some((l) => l.message.includes('unknown option')) ? true : undefined;
      }),
  ],
];

/** What each block's output and effects must show. */
const after: Array<[RegExp, (out: string) => Promise<void> | void]> = [
  [
    /--until-replaced/,
    async () => {
      signingKeyId = await keyIdNow();
      // Started by hand to be replaced: live, never ready, so no health gate passes on it.
      const ready = await fetch(`http://127.0.0.1:${serverPort}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.text()).toMatch(/until-replaced/);
    },
  ],
  [
    /flotilla-server 1\.0\.0, ok/,
    async (out) => {
      expect(out).toMatch(/flotilla-server[\s\S]*1\.0\.0/);
      expect((await serverReport())?.version).toBe('1.0.0');
      expectOneServer('1.0.0');
      // The hand-started server stopped itself when replaced; the managed one has the key the agent pinned.
      expect(readFileSync(join(root, 'work/bootstrap.log'), 'utf8')).toMatch(/shutting down/);
      expect(await keyIdNow()).toBe(signingKeyId);
      expect(readFileSync(join(agentDir(), 'signing-key.pem'), 'utf8')).toContain('PUBLIC KEY');
    },
  ],
  [
    /flotilla-server 1\.0\.1, ok/,
    async (out) => {
      expect(out).toMatch(/1\.0\.1/);
      expectOneServer('1.0.1');
      expect(await keyIdNow()).toBe(signingKeyId);
    },
  ],
  [
    /flotilla audit --action version\.publish/,
    async (out) => {
      expect(out).toMatch(/flotilla-server/);
      const { entries } = await api<{ entries: Array<{ action: string; target?: string }> }>('/api/v1/audit?limit=100');
      const actions = entries.map((e) => e.action);
      // Entries written by the server started by hand and by 1.0.0, read by 1.0.1.
      for (const action of ['service.create', 'environment.create', 'version.publish', 'instance.enroll'])
        expect(actions).toContain(action);
      expect(actions.filter((a) => a === 'version.publish')).toHaveLength(2);
    },
  ],
  [
    /rolled back to 1\.0\.1/,
    async (out) => {
      expect(out).toMatch(
        /update to 1\.0\.2 failed: exited with code 1 during the startup window; rolled back to 1\.0\.1/,
      );
      expectOneServer('1.0.1');
      const failed = JSON.parse(readFileSync(join(serviceDir(), 'failed-versions.json'), 'utf8'));
      expect(failed.failed.version).toBe('1.0.2');
      expect(await keyIdNow()).toBe(signingKeyId);
    },
  ],
  [/--service-version 1\.0\.2/, (out) => expect(out).toMatch(/unknown option '--no-such-option'/)],
];

function localise(text: string): string {
  return text.replaceAll('8314', String(serverPort)).replaceAll('/var/lib/', `${root}/var/`);
}

async function runBlock(block: ReadmeBlock): Promise<void> {
  if (isPackageBlock(block)) {
    stubPackage(block.text);
    return;
  }
  const text = localise(block.text);
  for (const [pattern, wait] of before) if (pattern.test(block.text)) await wait();
  // The update to 1.0.1 starts with its desired set: from here on, how long the server is away.
  if (/flotilla-server=1\.0\.1/.test(block.text)) availability = watchAvailability(serverPort, 20);
  const result = await shell.run(text, 3 * 60_000);
  const failed = [...new Set(result.failures.map((f) => f.line))].sort((a, b) => a - b);
  expect(failed, `failing lines of the block\n${result.stdout}\n${result.stderr}`).toEqual(refusedLines(text));
  for (const [pattern, check] of after) if (pattern.test(block.text)) await check(result.stdout);
}

/** Adds (or, as restoring the backup would, removes) a migration this server does not know. */
function futureMigration(action: 'add' | 'remove'): string {
  const change =
    action === 'add'
      ? `insert into kysely_migration (name, timestamp) values ('9999-from-a-newer-server', '2026-01-01T00:00:00.000Z')`
      : `delete from kysely_migration where name = '9999-from-a-newer-server'`;
  const script = `const { DatabaseSync } = require('node:sqlite'); const db = new DatabaseSync(process.argv[1]); db.exec(${JSON.stringify(change)}); db.close();`;
  return `${join(repo, 'node_modules/.bin/node')} -e ${JSON.stringify(script)} ${join(root, 'var/flotilla-server/flotilla.db')}`;
}

async function agentLogSays(pattern: RegExp): Promise<true | undefined> {
  return pattern.test(readFileSync(join(root, 'work/agent.log'), 'utf8')) ? true : undefined;
}

describe('docs/self-update.md, run as written', () => {
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'flotilla-self-update-'));
    for (const dir of ['home', 'tmp', 'work', 'var', 'shell']) mkdirSync(join(root, dir));
    serverPort = await freePort();
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FLOTILLA_')));
    const env = {
      ...inherited,
      PATH: `${repo}/bin:${repo}/node_modules/node/bin:${process.env.PATH}`,
      HOME: join(root, 'home'),
      XDG_CONFIG_HOME: join(root, 'home/.config'),
      TMPDIR: join(root, 'tmp'),
    };
    shell = new ShellSession(join(root, 'shell'), env, join(root, 'work'));
  });

  afterAll(async () => {
    await availability?.stop();
    if (shell) {
      // The agent stops the server it runs; whatever the blocks left is ended below and counted.
      await shell.run('kill $AGENT $BOOTSTRAP 2> /dev/null; wait $AGENT $BOOTSTRAP 2> /dev/null; true', 60_000);
      await shell.close();
    }
    const left = root ? [...new Set([...processesIn(root), ...markedProcesses(serviceDir())])] : [];
    for (const pid of left) process.kill(pid, 'SIGKILL');
    if (root) rmSync(root, { recursive: true, force: true, maxRetries: 5 });
    if (measured.length > 0) console.log(measured.join('\n'));
    expect(left, 'processes the walkthrough started are all stopped').toEqual([]);
  });

  it('has the walkthrough: two package blocks, the agent, the update and the failed version', () => {
    expect(blocks.filter(isPackageBlock)).toHaveLength(2);
    const all = blocks.map((b) => b.text).join('\n');
    for (const needle of ['flotilla agent --server', 'flotilla-server=1.0.1', 'flotilla-server=1.0.2', '/readyz'])
      expect(all).toContain(needle);
  });

  it('refuses a data directory inside the version an agent runs it from', () => {
    const service = join(root, 'var/flotilla-agent-elsewhere/services/flotilla-server');
    mkdirSync(join(service, 'versions/1.0.0'), { recursive: true });
    const run = spawnSync(join(repo, 'bin/flotilla'), ['server', '--port', '0', '--host', '127.0.0.1'], {
      cwd: join(service, 'versions/1.0.0'),
      env: { PATH: process.env.PATH, HOME: join(root, 'home'), FLOTILLA_SERVICE_DIR: service },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.status, run.stderr).toBe(2);
    expect(run.stderr).toMatch(/the data directory .*versions\/1\.0\.0\/flotilla-data is inside .*give --data-dir/);
    expect(existsSync(join(service, 'versions/1.0.0/flotilla-data'))).toBe(false);
  });

  it('shows in its manifest section the flotilla.json the walkthrough publishes', () => {
    const json = /```json\n([\s\S]*?)\n```/.exec(doc)?.[1] ?? '';
    const written = /cat > server-1\.0\.0\/flotilla\.json <<'JSON'\n([\s\S]*?)\nJSON/.exec(doc)?.[1] ?? '';
    expect(JSON.parse(json)).toEqual(JSON.parse(written));
  });

  it.each(blocks.map((b) => [b.line, b.text.split('\n')[0], b] as const))(
    'docs/self-update.md line %i: %s',
    async (_line, _first, block) => {
      try {
        await runBlock(block);
      } catch (err) {
        // The agent's log says what the update did; the text alone rarely does.
        const log = (name: string) => {
          try {
            return readFileSync(join(root, name), 'utf8').split('\n').slice(-60).join('\n');
          } catch {
            return '(none)';
          }
        };
        (err as Error).message += `\n--- agent.log\n${log('work/agent.log')}`;
        (err as Error).message +=
          `\n--- server\n${log('var/flotilla-agent/logs/flotilla-server/live.stdout')}\n${log('var/flotilla-agent/logs/flotilla-server/live.stderr')}`;
        const { execSync } = await import('node:child_process');
        (err as Error).message +=
          `\n--- curl ${execSync(`curl -sS -m 5 http://127.0.0.1:${serverPort}/readyz 2>&1; ss -ltnp 2>&1 | grep ${serverPort}; true`).toString()}`;
        (err as Error).message +=
          `\n--- processes ${JSON.stringify(markedProcesses(serviceDir()).map((pid) => [pid, readFileSync(`/proc/${pid}/cmdline`, 'latin1')]))}`;
        throw err;
      }
    },
    4 * 60_000,
  );
  it('refuses a second server on the SQLite database the managed server holds', () => {
    const run = spawnSync(
      join(repo, 'bin/flotilla'),
      ['server', '--port', '0', '--host', '127.0.0.1', '--data-dir', join(root, 'var/flotilla-server')],
      { env: { PATH: process.env.PATH, HOME: join(root, 'home') }, encoding: 'utf8', timeout: 60_000 },
    );
    expect(run.status, run.stderr).toBe(2);
    expect(run.stderr).toMatch(
      new RegExp(
        `another flotilla server \\(pid \\d+ .*listening on http://127\\.0\\.0\\.1:${serverPort}.*is using the SQLite database`,
      ),
    );
    expectOneServer('1.0.1');
  });

  // What the page says of a version that migrated the database and then failed its gate: the
  // version rolled back to refuses the newer schema, and restoring the data brings it back.
  it('a failed version that migrated: the old one refuses the newer schema until the data is restored', async () => {
    const dir = join(root, 'work/server-1.0.3');
    mkdirSync(join(dir, 'node_modules/.bin'), { recursive: true });
    writeFileSync(join(dir, 'node_modules/.bin/flotilla'), `#!/bin/sh\n${futureMigration('add')}\nexit 1\n`);
    chmodSync(join(dir, 'node_modules/.bin/flotilla'), 0o755);
    const publish = await shell.run(
      [
        'cp server-1.0.1/flotilla.json server-1.0.3/',
        'flotilla version publish flotilla-server 1.0.3 ./server-1.0.3 --notes "migrates, then fails"',
        'flotilla desired set control-plane flotilla-server=1.0.3',
      ].join('\n'),
      60_000,
    );
    expect(publish.failures, publish.stderr).toEqual([]);
    await eventually(
      'the rollback to a 1.0.1 that refuses the newer schema',
      () =>
        agentLogSays(
          /update to 1\.0\.3 failed: exited with code 1 during the startup window; rolled back to 1\.0\.1, which is not healthy either: exited with code 2 during the startup window/,
        ),
      60_000,
    );
    const stderr = readFileSync(join(agentDir(), 'logs/flotilla-server/live.stderr'), 'utf8');
    expect(stderr).toMatch(
      /the database was migrated by a newer Flotilla server \(migration 9999-from-a-newer-server\), which this server \([^)]+\) does not know/,
    );
    // Back: stop the agent, restore the data (here: the one row the newer version added), start it.
    const restore = await shell.run(
      [
        'kill $AGENT',
        'wait $AGENT',
        futureMigration('remove'),
        localise(
          'flotilla agent --server http://127.0.0.1:8314 --token "$AGENT_TOKEN" --dir /var/lib/flotilla-agent >> agent.log 2>&1 &',
        ),
        'AGENT=$!',
      ].join('\n'),
      60_000,
    );
    expect(restore.failures, restore.stderr).toEqual([]);
    const report = await eventually('1.0.1 serving on the restored data', reportOf('1.0.1', /1\.0\.3/), 60_000);
    expect(report.updateError).toMatch(/which is not healthy either/);
    expectOneServer('1.0.1');
    expect(await keyIdNow()).toBe(signingKeyId);
    // Not tried again until the desired version changes.
    expect(JSON.parse(readFileSync(join(serviceDir(), 'failed-versions.json'), 'utf8')).failed.version).toBe('1.0.3');
  }, 150_000);
});
