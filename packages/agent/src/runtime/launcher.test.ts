// launcher.sh, run for real by /bin/sh: it starts the agent again at once after a hand-over (75), passes
// on a refusal (78), restarts a crash after a delay, and turns SIGTERM and SIGINT into one SIGTERM.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { launcherCommand } from './launcher-command.ts';

// Each start appends a line to `starts`; its exit code is the next line of `codes` (or it runs until TERM).
const agentScript = `
const { appendFileSync, readFileSync, writeFileSync } = require('node:fs');
const [starts, codes] = process.argv.slice(1);
appendFileSync(starts, process.env.FLOTILLA_AGENT_LAUNCHER + ' ' + process.env.FLOTILLA_SERVICE_DIR + '\\n');
const n = readFileSync(starts, 'utf8').trim().split('\\n').length;
const code = readFileSync(codes, 'utf8').split('\\n')[n - 1];
process.on('SIGINT', () => appendFileSync(starts + '.signals', 'INT\\n'));
process.on('SIGTERM', () => { appendFileSync(starts + '.signals', 'TERM\\n'); setTimeout(() => process.exit(3), 100); });
if (code) process.exit(Number(code));
setInterval(() => {}, 1000);
`;

describe('launcher.sh', () => {
  let dir: string;
  let launcher: ChildProcess | null = null;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'flotilla-launcher-'));
  });
  afterEach(async () => {
    if (launcher && launcher.exitCode === null && launcher.signalCode === null) {
      launcher.kill('SIGKILL');
      await new Promise((r) => launcher?.once('exit', r));
    }
    launcher = null;
    rmSync(dir, { recursive: true, force: true });
  });

  const start = (codes: string[]) => {
    writeFileSync(join(dir, 'codes'), codes.join('\n'));
    const [shell = '', ...args] = launcherCommand(join(dir, 'agent'), [
      process.execPath,
      '-e',
      agentScript,
      join(dir, 'starts'),
      join(dir, 'codes'),
    ]);
    let err = '';
    const proc = spawn(shell, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr?.on('data', (c: Buffer) => {
      err += c.toString();
    });
    launcher = proc;
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    return { proc, exited, stderr: () => err };
  };
  const starts = () =>
    existsSync(join(dir, 'starts')) ? readFileSync(join(dir, 'starts'), 'utf8').trim().split('\n') : [];
  const signals = () => readFileSync(join(dir, 'starts.signals'), 'utf8').trim().split('\n');
  const until = async (what: () => boolean, ms = 10_000) => {
    const end = Date.now() + ms;
    while (!what()) {
      if (Date.now() > end) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 25));
    }
  };

  it('starts the agent again at once after 75 and passes 78 on, marking the agent as the agent service', async () => {
    const begun = Date.now();
    const run = start(['75', '75', '78']);
    expect(await run.exited).toBe(78);
    expect(Date.now() - begun).toBeLessThan(5000);
    const lines = starts();
    expect(lines).toHaveLength(3);
    // Each start knows its launcher, and carries the marker of the agent's own service directory.
    expect(lines[0]).toBe(`${run.proc.pid} ${join(dir, 'agent', 'services', 'flotilla-agent')}`);
    expect(run.stderr()).toBe('');
  });

  it('restarts a crashed agent after a delay, and says so', async () => {
    const run = start(['1']);
    await until(() => starts().length === 2);
    expect(run.stderr()).toMatch(/WARN launcher the agent exited with code 1; starting it again in 1 s/);
    run.proc.kill('SIGTERM');
    await until(() => existsSync(join(dir, 'starts.signals')));
    // The agent's exit code is the launcher's.
    expect(await run.exited).toBe(3);
  });

  it('turns SIGINT into SIGTERM for the agent, and waits for it to stop', async () => {
    const run = start([]);
    await until(() => starts().length === 1);
    run.proc.kill('SIGINT');
    expect(await run.exited).toBe(3);
    expect(signals()).toEqual(['TERM']);
    expect(starts()).toHaveLength(1);
  });
});
