// A client version made with `flotilla client-version build` from a large developer version and 50
// overlays in five settings trees, through the real CLI and a real server; prints each phase.
//
//   node --conditions=@flotilla/source scripts/bench-client-build.ts [--files 5000] [--mb 100]
//
// Publishes a developer version of --files files totalling --mb MiB (jars of random bytes, static
// pages, ~3,000 settings files scanned for macros), makes one git repository holding five settings
// trees (as subdirectories, fetched over file://), starts a server (SQLite) in a child process on a
// loopback port, and runs three client builds: the first (clone), the same inputs again (nothing
// published), and one after a one-line settings commit (fetch, generation _1). Removes its server and
// temp dir afterwards.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';

const { values: args } = parseArgs({
  options: {
    files: { type: 'string', default: '5000' },
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
const write = (path: string, content: string | Buffer) => {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
};

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

function hoconDefaults(): string {
  const lines = ['# service defaults', 'include "logging.conf"'];
  for (let s = 0; s < 40; s++) {
    lines.push(`section${s} {`);
    for (let k = 0; k < 12; k++) lines.push(`  key${k} = "value ${s}.${k}"`);
    lines.push(`  port = ${9000 + s}`, `  hosts = [a${s}, b${s}]`, '}');
  }
  lines.push('service.name = "%%service%%"', 'service.region = %%region%%');
  return `${lines.join('\n')}\n`;
}

/** The developer version's tree: a fifth of the files are settings, the bytes mostly in jars. */
function makeDeveloperTree(dir: string, files: number, bytes: number): void {
  const conf: Record<string, string> = {
    'conf/application.conf': hoconDefaults(),
    'conf/logging.conf': 'level = INFO\n',
    'conf/app.json': `${JSON.stringify({ http: { port: 8080 }, features: Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`f${i}`, i % 2 === 0])) }, null, 2)}\n`,
    'conf/app.properties': `${Array.from({ length: 300 }, (_, i) => `prop.${i}=value ${i}`).join('\n')}\n`,
    'flotilla.json': `${JSON.stringify({ run: { command: 'bin/start.sh', args: ['--version', '%%version%%'] } }, null, 2)}\n`,
  };
  for (const [rel, text] of Object.entries(conf)) write(join(dir, rel), text);
  const jars = 200;
  const jarBytes = Math.floor((bytes * 0.9) / jars);
  for (let i = 0; i < jars; i++) write(join(dir, `lib/dep-${i}.jar`), randomBytes(jarBytes));
  const rest = files - jars - Object.keys(conf).length;
  const small = Math.max(16, Math.floor((bytes * 0.1) / Math.max(rest, 1)));
  for (let i = 0; i < rest; i++) {
    const kind = i % 5 === 0 ? 'json' : i % 5 === 1 ? 'conf' : i % 5 === 2 ? 'properties' : 'html';
    write(
      join(dir, `static/${i % 50}/page-${i}.${kind}`),
      kind === 'json' ? `{"pad": "${'x'.repeat(small)}"}` : 'x'.repeat(small),
    );
  }
}

/** Five settings trees in one repository, 50 overlays in all (as in bench-overlays.ts). */
function makeSettings(repo: string): number {
  let overlays = 0;
  for (let t = 0; t < 5; t++) {
    const dir = join(repo, `client${t}`);
    for (let i = 1; i <= 4; i++) {
      const n = t * 4 + i;
      write(join(dir, `conf/application.${n}.conf`), `section${n}.port = ${10_000 + n}\nextra${n} { on = true }\n`);
      overlays += 1;
      if (t < 2 && i === 4) continue;
      write(
        join(dir, `conf/app.${n}.json`),
        JSON.stringify({ http: { port: 8000 + n }, features: { [`f${n}`]: true } }),
      );
      overlays += 1;
    }
    for (let i = 1; i <= 2; i++) write(join(dir, `conf/app.${20 + t * 2 + i}.properties`), `prop.${t}=client ${t}\n`);
    overlays += 2;
    write(join(dir, 'conf/application.conf.defines'), `region=eu-${t}\n`);
    write(join(dir, `certs/client-${t}.pem`), randomBytes(4096));
  }
  write(join(repo, 'client0/flotilla.json'), JSON.stringify({ run: { env: { CLIENT: 'acme' } } }));
  write(join(repo, 'client1/conf/logging.conf'), 'level = WARN\n');
  return overlays + 2;
}

/** Seconds of each phase from the build log's step lines, and of the whole log. */
function phases(log: string): { phases: Record<string, number>; logged: number } {
  const lines = log.split('\n');
  const at = (needle: string) => Date.parse(lines.find((l) => l.includes(needle))?.slice(1, 25) ?? '');
  const start = at('] building a client version');
  const named = at('] the new client version is');
  const unpacked = at('] unpacked ');
  const end = at('] client build finished');
  return {
    phases: {
      'settings: clone or fetch, inputs, catalog lookup': (named - start) / 1000,
      'download, verify, unpack the developer version': (unpacked - named) / 1000,
      'apply 50 overlays': (end - unpacked) / 1000,
    },
    logged: (end - start) / 1000,
  };
}

async function run(): Promise<void> {
  const files = Number(args.files);
  const bytes = Number(args.mb) * 1024 * 1024;
  const work = mkdtempSync(join(tmpdir(), 'flotilla-bench-client-'));
  const token = `flt_bench_${randomBytes(12).toString('hex')}`;
  const child: ChildProcess = spawn(
    process.execPath,
    ['--conditions=@flotilla/source', new URL(import.meta.url).pathname, '--serve', join(work, 'data')],
    { env: { ...process.env, FLOTILLA_ADMIN_TOKEN: token }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    const developer = join(work, 'developer');
    makeDeveloperTree(developer, files, bytes);
    const repo = join(work, 'settings');
    const overlays = makeSettings(repo);
    git(repo, ['init', '--quiet', '--initial-branch=main']);
    git(repo, ['add', '--all']);
    git(repo, ['commit', '--quiet', '-m', 'settings']);
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
    let t = performance.now();
    cli(['version', 'publish', 'bench', '3.5.1', developer]);
    console.log(
      `developer version: ${files} files, ${(bytes / 1024 / 1024).toFixed(0)} MiB, published in ${((performance.now() - t) / 1000).toFixed(1)} s; settings: 5 trees, ${overlays} overlays`,
    );
    const workdir = join(work, 'client');
    const build = () =>
      cli([
        'client-version',
        'build',
        'bench',
        '--from',
        '3.5.1',
        '--local',
        ...Array.from({ length: 5 }, (_, i) => ['--settings', `client${i}=file://${repo}#main:client${i}`]).flat(),
        '--macro',
        'service=shop',
        '--workdir',
        workdir,
      ]);
    for (const label of [
      'first client build (clone)',
      'same inputs again',
      'after a one-line settings commit (fetch)',
    ]) {
      if (label.startsWith('after')) {
        write(join(repo, 'client4/conf/app.29.properties'), 'prop.4=changed\n');
        git(repo, ['commit', '--quiet', '-am', 'one line']);
      }
      t = performance.now();
      const out = build();
      const total = (performance.now() - t) / 1000;
      if (out.startsWith('nothing published')) {
        console.log(`${label}: ${total.toFixed(1)} s, nothing published`);
        continue;
      }
      const version = /^published bench (\S+):.*\(([\d.]+ [KMG]iB)\)/m.exec(out);
      console.log(`${label}: ${total.toFixed(1)} s from the command to ${version?.[1]} (artifact ${version?.[2]})`);
      const measured = phases(readFileSync(join(workdir, 'logs', '3.5.1.log'), 'utf8'));
      for (const [phase, seconds] of Object.entries(measured.phases))
        console.log(`  ${phase}: ${seconds.toFixed(1)} s`);
      console.log(`  pack + upload + publish, and the CLI's start: ${(total - measured.logged).toFixed(1)} s`);
    }
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
else if (args.help)
  console.log('node --conditions=@flotilla/source scripts/bench-client-build.ts [--files 5000] [--mb 100]');
else await run();
