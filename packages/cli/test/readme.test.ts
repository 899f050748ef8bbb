// The README, run as written: every shell block in order, in one bash session, in a fresh temporary
// directory against a fresh server, with checks of what the text says should happen. Two things are
// changed on the way, so that the run cannot collide with anything on the machine: the ports 8314
// and 8080 become free ones, and HOME, TMPDIR and npm's global prefix point into the temporary
// directory. Blocks marked `ci` (npm ci, npm test) are what .ci/run runs; the test checks it does.
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, freePort } from './agent-e2e.test.helper.ts';
import { processesIn, type ReadmeBlock, refusedLines, ShellSession, shellBlocks } from './readme-shell.test.helper.ts';

const repo = fileURLToPath(new URL('../../../', import.meta.url)).replace(/\/$/, '');
const readme = readFileSync(join(repo, 'README.md'), 'utf8');
const blocks = shellBlocks(readme);
const cliVersion: string = JSON.parse(readFileSync(join(repo, 'packages/cli/package.json'), 'utf8')).version;

let root = '';
let clone = '';
let serverPort = 0;
let webPort = 0;
let shell: ShellSession;
let serverLog = '';

/** A directory that is the clone as far as npm and the scripts can tell, without its data or git. */
function makeClone(dir: string): void {
  mkdirSync(dir);
  for (const name of readdirSync(repo)) {
    if (['.git', '.tmp', 'flotilla-data', 'release', 'scripts'].includes(name)) continue;
    symlinkSync(join(repo, name), join(dir, name));
  }
  // Copied, not linked: scripts find the clone from their own path (release/ is written there).
  cpSync(join(repo, 'scripts'), join(dir, 'scripts'), { recursive: true });
}

/** The admin API as the walkthrough's saved login calls it. */
async function api(path: string): Promise<unknown> {
  const login = JSON.parse(readFileSync(join(root, 'home/.config/flotilla/login.json'), 'utf8')) as { token: string };
  const res = await fetch(`http://127.0.0.1:${serverPort}${path}`, {
    headers: { authorization: `Bearer ${login.token}` },
  });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

async function productionRuns(version: string): Promise<true | undefined> {
  const { instances } = (await api('/api/v1/instances?environment=production')) as {
    instances: Array<{ services: Array<{ service: string; version: string | null; state: string | null }> }>;
  };
  const web = instances[0]?.services.find((s) => s.service === 'web');
  return web?.version === version && web.state === 'running' ? true : undefined;
}

/** What must hold before a block runs, where the README says to wait ("within a few seconds"). */
const before: Array<[RegExp, () => Promise<unknown>]> = [
  [
    /curl -s http:\/\/127\.0\.0\.1:\d+\/ /,
    () => eventually('web 1.0.0 running in production', () => productionRuns('1.0.0'), 90_000),
  ],
  [
    /flotilla drift --environment production/,
    () =>
      eventually('the host to report os-release and web', async () => {
        const { items } = (await api('/api/v1/drift?environment=production')) as { items: Array<{ subject: string }> };
        const subjects = items.map((i) => i.subject);
        return subjects.includes('os-release') && subjects.includes('web') ? true : undefined;
      }),
  ],
  [
    /flotilla rollout approve/,
    async () => {
      await eventually('the first wave running web 1.1.0', () => productionRuns('1.1.0'), 90_000);
      await eventually('the rollout to wait for approval', async () => {
        const { rollouts } = (await api('/api/v1/environments/production/rollouts')) as {
          rollouts: Array<{ state: string }>;
        };
        return rollouts[0]?.state === 'waiting_approval' ? true : undefined;
      });
    },
  ],
];

/** What each block's output and effects must show. */
const after: Array<[RegExp, (out: string) => Promise<void> | void]> = [
  [/checkupgrade/, (out) => expect(JSON.parse(out).versions[0].tags).toContain('latest')],
  [
    /\/usage\?groupBy=appVersion/,
    (out) => {
      expect(out.length).toBeLessThan(4096); // a readable answer, not a page of zero points
      expect(JSON.stringify(JSON.parse(out))).toContain('v0.0.9');
    },
  ],
  [
    /flotilla version list web/,
    (out) => expect(out).toMatch(/1\.1\.0[\s\S]*Second release|Second release[\s\S]*1\.1\.0/),
  ],
  [/flotilla desired diff test 1 2/, (out) => expect(out).toMatch(/web\s+1\.0\.0\s+→\s+1\.1\.0/)],
  [
    /flotilla desired rollback test 1/,
    async () => {
      const desired = (await api('/api/v1/environments/test/desired')) as { versions: Record<string, string> };
      expect(desired.versions.web).toBe('1.0.0');
    },
  ],
  [
    /flotilla logs web/,
    (out) => {
      expect(out).toContain('ok');
      expect(out).toContain(`web listening on ${webPort}`);
    },
  ],
  [/flotilla drift apply -f trackers\.yaml/, (out) => expect(out).toMatch(/os-release/)],
  [
    /flotilla drift --environment production/,
    (out) => {
      expect(out).toMatch(/os-release/);
      expect(out).toMatch(/web\s[\s\S]*1\.0\.0|1\.0\.0[\s\S]*web/);
    },
  ],
  [/flotilla drift show web/, (out) => expect(out).toMatch(/1\.0\.0/)],
  [/flotilla rollout abort/, () => eventually('production back on web 1.0.0', () => productionRuns('1.0.0'), 90_000)],
];

/** upgrade-responder's own files, as a migrating user has them. */
function writeUpgradeResponderFiles(dir: string): void {
  const versions = [{ Name: 'v1.9.0', ReleaseDate: '2026-06-01T00:00:00Z', Tags: ['latest'] }];
  writeFileSync(join(dir, 'response-config.json'), JSON.stringify({ Versions: versions }));
  const schema = {
    appVersionSchema: { dataType: 'string', maxLen: 200 },
    extraTagInfoSchema: {},
    extraFieldInfoSchema: {},
  };
  writeFileSync(join(dir, 'request-schema.json'), JSON.stringify(schema));
}

function localise(text: string): string {
  return text.replaceAll('8314', String(serverPort)).replaceAll('8080', String(webPort));
}

async function runBlock(block: ReadmeBlock): Promise<void> {
  const text = localise(block.text);
  if (block.mode === 'ci') {
    const ci = readFileSync(join(repo, '.ci/run'), 'utf8');
    for (const command of text.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'))) {
      expect(ci, `.ci/run runs \`${command}\``).toMatch(new RegExp(`^${command.trim()}\\b`, 'm'));
    }
    return;
  }
  if (block.mode === 'server') {
    await shell.stopJobs();
    const cwd = (await shell.run('pwd', 5000)).stdout.trim();
    if (text.includes('response-config.json')) writeUpgradeResponderFiles(cwd);
    serverLog = await shell.start(text);
    await eventually(
      'the server to be ready',
      async () => ((await fetch(`http://127.0.0.1:${serverPort}/readyz`)).ok ? true : undefined),
      120_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${readFileSync(serverLog, 'utf8')}`);
    });
    if (text.includes('--application-name longhorn')) {
      const res = await fetch(`http://127.0.0.1:${serverPort}/v1/checkupgrade`, {
        method: 'POST',
        body: JSON.stringify({ appVersion: 'v1.8.0', extraTagInfo: {}, extraFieldInfo: {} }),
      });
      expect(((await res.json()) as { versions: Array<{ name: string }> }).versions[0]?.name).toBe('v1.9.0');
    }
    return;
  }
  if (block.mode === 'background') {
    await shell.start(text);
    return;
  }
  for (const [pattern, wait] of before) if (pattern.test(text)) await wait();
  // An install block runs in the clone; the first line keeps the block's line numbers.
  const script = block.mode === 'install' ? `pushd ${clone} > /dev/null; ${text}\npopd > /dev/null` : text;
  const result = await shell.run(script, 5 * 60_000);
  const failed = [...new Set(result.failures.map((f) => f.line))].sort((a, b) => a - b);
  expect(failed, `failing lines of the block\n${result.stdout}\n${result.stderr}`).toEqual(refusedLines(text));
  for (const [pattern, check] of after) if (pattern.test(text)) await check(result.stdout);
  if (block.mode === 'install') {
    const installed = await shell.run(`"${root}/global/bin/flotilla" --version`, 30_000);
    expect(installed.stdout.trim()).toBe(cliVersion);
  }
}

describe('the README, run as written', () => {
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'flotilla-readme-'));
    clone = join(root, 'clone');
    makeClone(clone);
    for (const dir of ['home', 'tmp', 'global', 'shell']) mkdirSync(join(root, dir));
    serverPort = await freePort();
    webPort = await freePort();
    // The user's environment (npm's registry settings and certificates among it), less Flotilla's.
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FLOTILLA_')));
    const env = {
      ...inherited,
      PATH: `${repo}/node_modules/node/bin:${process.env.PATH}`,
      XDG_CONFIG_HOME: join(root, 'home/.config'),
      TMPDIR: join(root, 'tmp'),
      FLOTILLA_PORT: String(serverPort),
      npm_config_prefix: join(root, 'global'),
      npm_config_update_notifier: 'false',
      npm_config_fund: 'false',
      npm_config_audit: 'false',
    };
    shell = new ShellSession(join(root, 'shell'), env, clone);
  });

  afterAll(async () => {
    await shell?.close();
    const left = root ? processesIn(root) : [];
    for (const pid of left) process.kill(pid, 'SIGKILL');
    if (root) rmSync(root, { recursive: true, force: true });
    expect(left, 'processes the README started are all stopped').toEqual([]);
  });

  it('has the blocks the walkthrough needs', () => {
    const modes = blocks.map((b) => b.mode);
    expect(modes.filter((m) => m === 'server').length).toBeGreaterThanOrEqual(1);
    expect(modes).toContain('install');
    expect(blocks.some((b) => b.text.includes('flotilla agent'))).toBe(true);
  });

  it.each(blocks.map((b) => [b.line, b.text.split('\n')[0], b] as const))(
    'README line %i: %s',
    async (_line, _first, block) => runBlock(block),
    6 * 60_000,
  );

  it('names only npm scripts that exist', () => {
    const scripts = Object.keys(JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')).scripts);
    for (const [, name] of readme.matchAll(/`npm run ([\w:-]+)/g)) expect(scripts, `npm run ${name}`).toContain(name);
  });
});
