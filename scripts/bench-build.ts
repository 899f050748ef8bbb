// Builds a large tree from a local git repository to a published version with `flotilla build
// --local`, and prints how long each phase took (from the build log's timestamps).
//
//   node --conditions=@flotilla/source scripts/bench-build.ts [--files 10000] [--mb 100]
//
// Makes a repository of --files random (incompressible) files totalling --mb MB, starts a server
// (SQLite) in a child process on a loopback port, then runs two builds through the real CLI: the
// first clones (file:// URL, git's normal transport), the second fetches one changed file. Removes
// its server and temp dir afterwards.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';

const { values: args } = parseArgs({
  options: {
    files: { type: 'string', default: '10000' },
    mb: { type: 'string', default: '100' },
    serve: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

const main = new URL('../packages/cli/src/main.ts', import.meta.url).pathname;
const gitEnv = {
  ...process.env,
  GIT_AUTHOR_NAME: 'bench',
  GIT_AUTHOR_EMAIL: 'bench@example.invalid',
  GIT_COMMITTER_NAME: 'bench',
  GIT_COMMITTER_EMAIL: 'bench@example.invalid',
};
const git = (cwd: string, gitArgs: string[]) => execFileSync('git', gitArgs, { cwd, env: gitEnv, stdio: 'ignore' });

async function serve(dir: string): Promise<void> {
  const { resolveServerConfig } = await import('../packages/server/src/config/config.ts');
  const { startServer } = await import('../packages/server/src/start.ts');
  const config = resolveServerConfig(
    { host: '127.0.0.1', port: '0', dataDir: dir },
    { FLOTILLA_ADMIN_TOKEN: process.env.FLOTILLA_ADMIN_TOKEN },
    dir,
  );
  const server = await startServer(config, { logger: pino({ level: 'silent' }) });
  console.log(JSON.stringify({ url: server.url }));
  process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
}

/** The tree: 100 files a directory, sizes spread around the mean so the total is exact. */
function makeTree(repo: string, files: number, bytes: number): void {
  const perDir = 100;
  const mean = Math.floor(bytes / files);
  let left = bytes;
  for (let i = 0; i < files; i++) {
    const dir = join(repo, 'data', `d${Math.floor(i / perDir)}`);
    if (i % perDir === 0) mkdirSync(dir, { recursive: true });
    const size = i === files - 1 ? left : Math.min(left, mean + ((i * 7919) % mean) - Math.floor(mean / 2));
    writeFileSync(join(dir, `f${i}.bin`), randomBytes(size));
    left -= size;
  }
  const spec = {
    update: [
      {
        service: 'bench',
        build: {
          buildCommands: [{ command: 'sh', args: ['-c', 'find data -type f | wc -l'], outputMatch: `^\\s*${files}$` }],
          copyFiles: [{ sourceFile: 'data', destinationFile: 'data' }],
          install: { runService: { command: 'true' } },
        },
      },
    ],
  };
  writeFileSync(join(repo, 'update.json'), JSON.stringify(spec, null, 2));
}

/** Seconds of each phase, from the log's step lines: git, build command, copy; and the whole log. */
function phases(log: string): { phases: Record<string, number>; logged: number } {
  const lines = log.split('\n');
  const at = (needle: string, last = false) => {
    const line = last ? lines.findLast((l) => l.includes(needle)) : lines.find((l) => l.includes(needle));
    return line ? Date.parse(line.slice(1, 25)) : Number.NaN;
  };
  const start = at('] building ');
  const ok = at('] ok in ', true);
  return {
    phases: {
      'git (clone or fetch, checkout)': (at('update.json (sha256') - start) / 1000,
      'build command': (ok - at('] $ ')) / 1000,
      'copy + flotilla.json': (at('build finished') - ok) / 1000,
    },
    logged: (at('build finished') - start) / 1000,
  };
}

async function run(): Promise<void> {
  const files = Number(args.files);
  const bytes = Number(args.mb) * 1024 * 1024;
  const work = mkdtempSync(join(tmpdir(), 'flotilla-bench-build-'));
  const token = `flt_bench_${randomBytes(12).toString('hex')}`;
  const child: ChildProcess = spawn(
    process.execPath,
    ['--conditions=@flotilla/source', new URL(import.meta.url).pathname, '--serve', join(work, 'data')],
    { env: { ...process.env, FLOTILLA_ADMIN_TOKEN: token }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    const repo = join(work, 'app');
    mkdirSync(repo);
    let t = performance.now();
    makeTree(repo, files, bytes);
    git(repo, ['init', '--quiet', '--initial-branch=main']);
    git(repo, ['add', '--all']);
    git(repo, ['commit', '--quiet', '-m', 'tree']);
    console.log(
      `repository: ${files} files, ${(bytes / 1024 / 1024).toFixed(0)} MiB, made in ${((performance.now() - t) / 1000).toFixed(1)} s`,
    );
    const { url } = await new Promise<{ url: string }>((resolve, reject) => {
      let buffered = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        const line = buffered.split('\n').find((l) => l.startsWith('{"url"'));
        if (line) resolve(JSON.parse(line));
      });
      child.once('exit', (code) => reject(new Error(`server exited with ${code} before listening`)));
    });
    const env = { ...process.env, FLOTILLA_SERVER: url, FLOTILLA_TOKEN: token, XDG_CONFIG_HOME: work };
    const cli = (cliArgs: string[]) =>
      execFileSync(process.execPath, ['--conditions=@flotilla/source', main, ...cliArgs], {
        env,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    cli(['service', 'create', 'bench']);
    const workdir = join(work, 'build');
    for (const [label, version] of [
      ['first build (clone)', '1.0.0'],
      ['rebuild after a one-file commit (fetch)', '1.0.1'],
    ] as const) {
      if (version === '1.0.1') {
        writeFileSync(join(repo, 'data/d0/f0.bin'), randomBytes(1000));
        git(repo, ['commit', '--quiet', '-am', 'one file']);
      }
      t = performance.now();
      const out = cli([
        'build',
        'bench',
        version,
        '--local',
        '--source',
        `app=file://${repo}#main`,
        '--workdir',
        workdir,
      ]);
      const total = (performance.now() - t) / 1000;
      const log = readFileSync(join(workdir, 'logs', `${version}.log`), 'utf8');
      const size = /\(([\d.]+ [KMG]iB)\)/.exec(out)?.[1] ?? '?';
      console.log(`${label}: ${total.toFixed(1)} s from the command to the published version (artifact ${size})`);
      const measured = phases(log);
      for (const [phase, seconds] of Object.entries(measured.phases))
        console.log(`  ${phase}: ${seconds.toFixed(1)} s`);
      console.log(`  pack + upload + publish, and the CLI's start: ${(total - measured.logged).toFixed(1)} s`);
    }
    const du = execFileSync('du', ['-sh', workdir], { encoding: 'utf8' }).split('\t')[0];
    console.log(`work directory after two builds: ${du} (clone, build directory, logs)`);
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(work, { recursive: true, force: true });
  }
}

if (args.serve) await serve(args.serve);
else if (args.help) console.log('node --conditions=@flotilla/source scripts/bench-build.ts [--files 10000] [--mb 100]');
else await run();
