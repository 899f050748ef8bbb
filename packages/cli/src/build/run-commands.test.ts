import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeTempDir } from '../../../server/test/support/temp-dir.ts';
import { BuildLog } from './build-log.ts';
import { runBuildCommands } from './run-commands.ts';
import { BuildStepError } from './step-error.ts';

function setup() {
  const work = makeTempDir('flotilla-run-');
  const sourcesDir = join(work, 'source');
  const firstRoot = join(sourcesDir, 'app');
  mkdirSync(join(firstRoot, 'sub'), { recursive: true });
  mkdirSync(join(sourcesDir, 'lib'), { recursive: true });
  const log = new BuildLog(join(work, 'build.log'));
  const opts = { sourcesDir, firstRoot, macros: { version: '1.2.3', flavor: 'blue' }, timeoutMs: 10_000, log };
  return { work, opts, log };
}

// A killed process whose parent is gone may linger as a zombie until reaped: that counts as dead.
const alive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

describe('build commands', () => {
  it('runs without a shell, expands macros in args, env and directory, checks exit code and output', async () => {
    const { opts, log } = setup();
    await runBuildCommands(
      [
        { command: 'sh', args: ['-c', 'echo "v=$1 f=$F $(pwd)"', 'x', '%%version%%'], env: { F: '%%flavor%%' } },
        { command: 'pwd', directory: '../lib' },
        { command: 'sh', args: ['-c', 'echo tests PASSED; exit 3'], exitCode: 3, outputMatch: '^tests PASS' },
        { command: 'echo', args: ['$HOME', '*'] },
      ],
      opts,
    );
    const text = readFileSync(log.path, 'utf8');
    log.close();
    expect(text).toContain(`v=1.2.3 f=blue ${opts.firstRoot}\n`);
    expect(text).toContain(`${join(opts.sourcesDir, 'lib')}\n`);
    expect(text).toContain('$HOME *\n');
    expect(text).toMatch(/\$ echo "\$HOME" "\*"/);
  });

  it.each([
    [{ command: 'false' }, 'build.buildCommands[0] (false): exit code 1, expected 0'],
    [
      { command: 'echo', args: ['hello'], outputMatch: 'bye' },
      'output does not match /bye/\n--- last lines of output ---\nhello',
    ],
    [{ command: 'no-such-command-here' }, 'could not start: spawn no-such-command-here ENOENT'],
    [{ command: 'true', directory: '../..' }, 'build.buildCommands[0].directory: ../.. is outside the sources'],
    [{ command: 'true', directory: '/tmp' }, 'must be relative'],
    [{ command: 'true', outputMatch: '(?<=a)' }, 'not a valid RE2 expression'],
    [
      { command: 'echo', args: ['%%nope%%'] },
      'update.json build.buildCommands[0].args[0]:1: macro %%nope%% is not defined',
    ],
  ])('refuses %j', async (command, message) => {
    const { opts, log } = setup();
    await expect(runBuildCommands([command], opts)).rejects.toThrow(message);
    log.close();
  });

  it('does not run anything when a later outputMatch is not valid', async () => {
    const { opts, log, work } = setup();
    const marker = join(work, 'ran');
    await expect(
      runBuildCommands(
        [
          { command: 'touch', args: [marker] },
          { command: 'true', outputMatch: '(' },
        ],
        opts,
      ),
    ).rejects.toThrow('build.buildCommands[1].outputMatch');
    log.close();
    expect(() => readFileSync(marker)).toThrow();
  });

  it('kills the whole process group on timeout, with SIGKILL when SIGTERM is ignored', async () => {
    const { opts, log, work } = setup();
    const pidFile = join(work, 'pid');
    const started = Date.now();
    const err = await runBuildCommands(
      [{ command: 'sh', args: ['-c', `trap "" TERM; sleep 60 & echo $! > ${pidFile}; wait`] }],
      { ...opts, timeoutMs: 500, killGraceMs: 300 },
    ).catch((e: unknown) => e);
    log.close();
    expect(err).toBeInstanceOf(BuildStepError);
    expect((err as Error).message).toContain('timed out after 0.5 s; its process group was killed');
    expect(Date.now() - started).toBeLessThan(5000);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(alive(pid)).toBe(false);
  });

  it('keeps only the last 1 MiB of output in memory but logs all of it', async () => {
    const { opts, log } = setup();
    writeFileSync(join(opts.firstRoot, 'big.sh'), 'head -c 3000000 /dev/zero | tr "\\0" a; echo; echo END\n');
    await runBuildCommands([{ command: 'sh', args: ['big.sh'], outputMatch: 'END$' }], opts);
    const { bytes } = log.close();
    expect(bytes).toBeGreaterThan(3_000_000);
  });
});
