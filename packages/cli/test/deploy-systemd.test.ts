// deploy/systemd/: both units' command lines run for real, as systemd would start them (their
// ExecStart= with the paths moved to temporary folders, a clean environment plus the settings an
// EnvironmentFile= gives): the server answers /readyz, the agent enrols and reports, and both stop
// with the unit's KillSignal= (to the main process, KillMode=mixed) and exit 0.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../server/test/support/ports.ts';
import { makeTempDir } from '../../server/test/support/temp-dir.ts';

const unitDir = fileURLToPath(new URL('../../../deploy/systemd/', import.meta.url));
const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
// Where the units expect the installed command: the release bundle under /opt/flotilla.
const installedMain = '/opt/flotilla/node_modules/@flotilla/cli/dist/main.js';

type Unit = Map<string, string[]>;

/** `[Section] Key=value` lines into "Section.Key" → values (keys may repeat); comments skipped. */
function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1] ?? '';
      continue;
    }
    const at = line.indexOf('=');
    const key = `${section}.${line.slice(0, at)}`;
    unit.set(key, [...(unit.get(key) ?? []), line.slice(at + 1)]);
  }
  return unit;
}

const units = Object.fromEntries(
  ['server', 'agent'].map((name) => [name, parseUnit(readFileSync(join(unitDir, `flotilla-${name}.service`), 'utf8'))]),
) as Record<'server' | 'agent', Unit>;
const one = (unit: Unit, key: string) => {
  const values = unit.get(`Service.${key}`) ?? [];
  expect(values, key).toHaveLength(1);
  return values[0] as string;
};

/** The unit's ExecStart= as argv, run from the sources, its state directory replaced by `stateDir`. */
function command(unit: Unit, stateDir: string): string[] {
  const exec = one(unit, 'ExecStart');
  // Plain words only, so splitting on spaces is how systemd reads it too.
  expect(exec).toMatch(/^[A-Za-z0-9_@%+=:,./ -]+$/);
  const argv = exec.split(/ +/);
  expect(argv.slice(0, 2)).toEqual(['/usr/bin/node', installedMain]);
  const state = `/var/lib/${one(unit, 'StateDirectory')}`;
  expect(argv).toContain(state);
  return [
    process.execPath,
    '--conditions=@flotilla/source',
    main,
    ...argv.slice(2).map((a) => (a === state ? stateDir : a)),
  ];
}

/** An EnvironmentFile= read as systemd reads the simple form: KEY=value lines. */
function environmentFile(path: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) env[m[1] as string] = m[2] as string;
  }
  return env;
}

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}
const started: Started[] = [];

function start(argv: string[], env: Record<string, string>, tmp: string): Started {
  // systemd starts a service with a clean environment; the unit's PrivateTmp= is a fresh /tmp.
  const child = spawn(argv[0] as string, argv.slice(1), {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', TMPDIR: tmp, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  for (const stream of [child.stdout, child.stderr]) stream?.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const s = { child, output: () => out, exited };
  started.push(s);
  return s;
}

afterAll(async () => {
  for (const s of started) {
    if (s.child.exitCode === null && s.child.signalCode === null) {
      try {
        process.kill(-(s.child.pid as number), 'SIGKILL');
      } catch {}
      await s.exited;
    }
  }
});

async function until<T>(what: string, check: () => Promise<T | undefined>, output: () => string): Promise<T> {
  const end = Date.now() + 30_000;
  while (Date.now() < end) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}:\n${output()}`);
}

describe('deploy/systemd', () => {
  it.each(['server', 'agent'] as const)('the %s unit is hardened and reads its secrets from a file', (name) => {
    const unit = units[name];
    expect(one(unit, 'User')).toMatch(/^flotilla/);
    expect(one(unit, 'EnvironmentFile')).toMatch(new RegExp(`^-?/etc/flotilla/${name}\\.env$`));
    for (const [key, value] of [
      ['NoNewPrivileges', 'yes'],
      ['PrivateTmp', 'yes'],
      ['ProtectSystem', 'strict'],
      ['ProtectHome', 'yes'],
      ['CapabilityBoundingSet', ''],
      ['KillMode', 'mixed'],
      ['KillSignal', 'SIGTERM'],
    ]) {
      expect(one(unit, key as string), key).toBe(value);
    }
    expect(one(unit, 'ExecStart')).not.toMatch(/token|pass|postgres:/i);
    expect(unit.get('Install.WantedBy')).toEqual(['multi-user.target']);
  });

  it.runIf(spawnSync('systemd-analyze', ['--version']).status === 0)('systemd-analyze verify finds nothing', () => {
    const dir = makeTempDir('flotilla-units-');
    // verify checks that ExecStart's program exists: point it at this Node.
    for (const name of ['server', 'agent']) {
      const text = readFileSync(join(unitDir, `flotilla-${name}.service`), 'utf8');
      writeFileSync(join(dir, `flotilla-${name}.service`), text.replace('/usr/bin/node ', `${process.execPath} `));
    }
    const files = ['server', 'agent'].map((n) => join(dir, `flotilla-${n}.service`));
    const r = spawnSync('systemd-analyze', ['verify', ...files], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(`${r.stdout}${r.stderr}`).toBe('');
    // It does report a unit it cannot read, so the empty output above means something.
    writeFileSync(
      files[0] as string,
      readFileSync(files[0] as string, 'utf8').replace('ProtectSystem=', 'ProtectSytem='),
    );
    expect(spawnSync('systemd-analyze', ['verify', files[0] as string], { encoding: 'utf8' }).stderr).toMatch(
      /Unknown key/,
    );
  });

  it('runs both command lines: the server gets ready, the agent reports, both stop cleanly', async () => {
    const port = await freePort();
    const adminToken = `flt_${randomBytes(24).toString('hex')}`;
    const etc = makeTempDir('flotilla-etc-');
    const serverEnvFile = join(etc, 'server.env');
    writeFileSync(
      serverEnvFile,
      `# as /etc/flotilla/server.env\nFLOTILLA_HOST=127.0.0.1\nFLOTILLA_PORT=${port}\nFLOTILLA_ADMIN_TOKEN=${adminToken}\nFLOTILLA_GEODB=off\n`,
      { mode: 0o600 },
    );
    const server = start(
      command(units.server, makeTempDir('flotilla-state-')),
      environmentFile(serverEnvFile),
      makeTempDir('flotilla-tmp-'),
    );
    const url = `http://127.0.0.1:${port}`;
    await until(
      '/readyz',
      async () => ((await fetch(`${url}/readyz`)).status === 200 ? true : undefined),
      server.output,
    );

    const api = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, json: (await res.json()) as Record<string, unknown> };
    };
    expect((await api('POST', '/api/v1/environments', { name: 'test' })).status).toBe(201);
    const created = await api('POST', '/api/v1/tokens', { kind: 'agent', name: 'systemd-test', environment: 'test' });
    expect(created.status).toBe(201);

    const agentEnvFile = join(etc, 'agent.env');
    writeFileSync(
      agentEnvFile,
      `FLOTILLA_AGENT_SERVER=${url}\nFLOTILLA_AGENT_TOKEN=${created.json.token}\nFLOTILLA_AGENT_MESH_LISTEN=off\nFLOTILLA_AGENT_INSTANCE_ID=systemd-host\n`,
      { mode: 0o600 },
    );
    const agent = start(
      command(units.agent, makeTempDir('flotilla-state-')),
      environmentFile(agentEnvFile),
      makeTempDir('flotilla-tmp-'),
    );
    const instance = await until(
      'the agent to report',
      async () => {
        const res = await api('GET', '/api/v1/instances?environment=test');
        const list = res.json.instances as Array<{ instanceId: string }> | undefined;
        return list?.find((i) => i.instanceId === 'systemd-host');
      },
      () => `${agent.output()}\n${server.output()}`,
    );
    expect(instance.instanceId).toBe('systemd-host');

    // KillMode=mixed: KillSignal= goes to the main process alone; each must exit 0 within TimeoutStopSec=.
    for (const [name, s] of [
      ['agent', agent],
      ['server', server],
    ] as const) {
      const signal = one(units[name], 'KillSignal') as NodeJS.Signals;
      const timeoutMs = Number(one(units[name], 'TimeoutStopSec')) * 1000;
      const begin = Date.now();
      process.kill(s.child.pid as number, signal);
      expect(await s.exited, `${name}:\n${s.output()}`).toEqual({ code: 0, signal: null });
      expect(Date.now() - begin).toBeLessThan(timeoutMs);
    }
  }, 90_000);
});
