import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LineOrigin } from '../logs/log-capture.ts';
import type { LogLine } from '../logs/log-line.ts';
import { isAlive, killGroup, tempDir, waitFor } from './fixtures.test.helper.ts';
import { readProcStat } from './proc-stats.ts';
import { type AgentSupervisor, type BackoffEvent, createSupervisor, serviceEnv } from './process-supervisor.ts';

let tmp: ReturnType<typeof tempDir>;
let supervisors: AgentSupervisor[] = [];
let pids: number[] = [];

beforeEach(() => {
  tmp = tempDir('supervisor');
  supervisors = [];
  pids = [];
});

afterEach(async () => {
  for (const s of supervisors) await s.stop(200);
  for (const pid of pids) killGroup(pid);
  tmp.cleanup();
});

function supervisor(extra: Partial<Parameters<typeof createSupervisor>[0]> = {}): AgentSupervisor {
  const s = createSupervisor({ name: 'svc', logDir: join(tmp.dir, 'logs'), ...extra });
  supervisors.push(s);
  return s;
}

function run(script: string, env: Record<string, string> = {}) {
  return { command: process.execPath, args: [script], env, workingDir: tmp.dir };
}

/** Lines the fixture appended to `file` (one per start), as numbers. */
function starts(file: string): number[] {
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map(Number) : [];
}

describe('process supervisor: start and stop', () => {
  it('kills a SIGTERM-ignoring service and its grandchild with SIGKILL after the grace period', async () => {
    const pidFile = join(tmp.dir, 'pids');
    const grandchild = tmp.script('grandchild.js', `process.on('SIGTERM', () => {}); setInterval(() => {}, 1000);`);
    const script = tmp.script(
      'stubborn.js',
      `const { spawn } = require('node:child_process');
       const { writeFileSync } = require('node:fs');
       process.on('SIGTERM', () => {});
       const child = spawn(process.execPath, [${JSON.stringify(grandchild)}], { stdio: 'ignore' });
       writeFileSync(${JSON.stringify(pidFile)}, process.pid + ' ' + child.pid);
       setInterval(() => {}, 1000);`,
    );
    const s = supervisor();
    const exits: { expected: boolean; signal: string | null }[] = [];
    s.onExit((e) => exits.push(e));
    s.start(run(script));
    expect(s.status().state).toBe('starting');
    const [leader, child] = (await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8'), 5000, 'pids'))
      .split(' ')
      .map(Number) as [number, number];
    pids.push(leader);
    expect(s.status()).toMatchObject({ state: 'running', pid: leader, failureCount: 0 });
    expect(s.status().startedAt).toMatch(/^\d{4}-\d{2}-\d{2}T/);

    const began = Date.now();
    await s.stop(300);
    expect(Date.now() - began).toBeGreaterThanOrEqual(290);
    expect(isAlive(leader)).toBe(false);
    // The orphaned grandchild is dead at once, but reaping it is init's job (a container's init may take seconds).
    expect(['Z', undefined]).toContain(readProcStat(child)?.state);
    await waitFor(() => !isAlive(child), 5000, 'grandchild reaped');
    expect(s.status()).toMatchObject({ state: 'stopped', pid: null, lastSignal: 'SIGKILL', failureCount: 0 });
    expect(exits).toEqual([{ code: null, signal: 'SIGKILL', expected: true }]);
  });

  it('stops a cooperative service with SIGTERM well before the grace period', async () => {
    const script = tmp.script('ok.js', `console.log('up'); setInterval(() => {}, 1000);`);
    const s = supervisor();
    s.start(run(script));
    await waitFor(() => s.tail(1)[0] === 'up', 5000, 'output');
    const pid = s.status().pid as number;
    pids.push(pid);
    const began = Date.now();
    await s.stop(5000);
    expect(Date.now() - began).toBeLessThan(2000);
    expect(isAlive(pid)).toBe(false);
    expect(s.status()).toMatchObject({ state: 'stopped', lastSignal: 'SIGTERM' });
  });

  it('refuses a second start while running and can start again after stop', async () => {
    const script = tmp.script('ok.js', `console.log('up'); setInterval(() => {}, 1000);`);
    const s = supervisor();
    s.start(run(script));
    expect(() => s.start(run(script))).toThrow(/already/);
    await waitFor(() => s.status().state === 'running');
    await s.stop(1000);
    s.start(run(script));
    await waitFor(() => s.status().state === 'running');
    pids.push(s.status().pid as number);
    await s.stop(1000);
    expect(s.status().state).toBe('stopped');
  });

  it('passes only PATH, HOME, LANG, TZ and the spec env to the service', async () => {
    process.env.FLOTILLA_AGENT_TOKEN = 'agent-secret';
    try {
      const script = tmp.script('env.js', `console.log(JSON.stringify(process.env)); setInterval(() => {}, 1000);`);
      const s = supervisor();
      s.start(run(script, { FOO: 'bar', PATH: '/custom/bin' }));
      const line = await waitFor(() => s.tail(1)[0], 5000, 'env output');
      const env = JSON.parse(line) as Record<string, string>;
      expect(env.FOO).toBe('bar');
      expect(env.PATH).toBe('/custom/bin');
      expect(env.FLOTILLA_AGENT_TOKEN).toBeUndefined();
      expect(Object.keys(env).every((k) => ['PATH', 'HOME', 'LANG', 'TZ', 'FOO'].includes(k))).toBe(true);
    } finally {
      delete process.env.FLOTILLA_AGENT_TOKEN;
    }
    expect(serviceEnv({ A: '1' }, { PATH: '/bin', SECRET: 'x', TZ: 'UTC' })).toEqual({
      PATH: '/bin',
      TZ: 'UTC',
      A: '1',
    });
  });
});

describe('process supervisor: faults', () => {
  it('restarts a crash loop with doubling, capped backoff and stops cleanly while in backoff', async () => {
    const startsFile = join(tmp.dir, 'starts');
    const script = tmp.script(
      'crash.js',
      `require('node:fs').appendFileSync(${JSON.stringify(startsFile)}, Date.now() + '\\n'); process.exit(2);`,
    );
    const s = supervisor();
    const backoffs: BackoffEvent[] = [];
    s.onBackoff((b) => backoffs.push(b));
    s.start(run(script), { initialBackoffMs: 50, maxBackoffMs: 200 });
    await waitFor(() => backoffs.length >= 5, 15_000, '5 restarts');
    expect(backoffs.slice(0, 5).map((b) => b.delayMs)).toEqual([50, 100, 200, 200, 200]);
    expect(backoffs.map((b) => b.reason).every((r) => r === 'exit')).toBe(true);
    const times = starts(startsFile);
    const gaps = times.slice(1, 5).map((t, i) => t - (times[i] as number));
    expect(gaps[0]).toBeGreaterThanOrEqual(50);
    expect(gaps[1]).toBeGreaterThanOrEqual(100);
    expect(gaps[2]).toBeGreaterThanOrEqual(200);
    expect(gaps[3]).toBeLessThan(200 + 2000);
    expect(s.status()).toMatchObject({ lastExitCode: 2, lastFaultReason: 'exit' });
    expect(s.status().failureCount).toBeGreaterThanOrEqual(5);

    await waitFor(() => s.status().state === 'backoff');
    await s.stop(500);
    const count = starts(startsFile).length;
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(starts(startsFile).length).toBe(count);
    expect(s.status().state).toBe('stopped');
  });

  it('resets the backoff after the service stayed up for the stable uptime', async () => {
    const startsFile = join(tmp.dir, 'starts');
    // Runs 1-3 crash at once, run 4 stays up 2.5 s, later runs crash at once again. Uptime counts
    // from the spawn, so node's own start-up (slow on a busy machine) must stay well below the 2 s.
    const script = tmp.script(
      'flaky.js',
      `const fs = require('node:fs');
       fs.appendFileSync(${JSON.stringify(startsFile)}, Date.now() + '\\n');
       const n = fs.readFileSync(${JSON.stringify(startsFile)}, 'utf8').trim().split('\\n').length;
       setTimeout(() => process.exit(1), n === 4 ? 2500 : 0);`,
    );
    const s = supervisor({ stableUptimeMs: 2000 });
    const delays: number[] = [];
    s.onBackoff((b) => delays.push(b.delayMs));
    s.start(run(script), { initialBackoffMs: 20, maxBackoffMs: 10_000 });
    await waitFor(() => delays.length >= 5, 15_000, '5 restarts');
    await s.stop(500);
    expect(delays.slice(0, 5)).toEqual([20, 40, 80, 20, 40]);
  });

  it('does not restart when onFault is false', async () => {
    const startsFile = join(tmp.dir, 'starts');
    const script = tmp.script(
      'once.js',
      `require('node:fs').appendFileSync(${JSON.stringify(startsFile)}, '1\\n'); process.exit(3);`,
    );
    const s = supervisor();
    const exits: unknown[] = [];
    s.onExit((e) => exits.push(e));
    s.start(run(script), { onFault: false, initialBackoffMs: 10 });
    await waitFor(() => s.status().state === 'failed', 5000, 'failed');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(starts(startsFile)).toHaveLength(1);
    expect(s.status()).toMatchObject({ state: 'failed', failureCount: 1, lastExitCode: 3, lastFaultReason: 'exit' });
    expect(exits).toEqual([{ code: 3, signal: null, expected: false }]);
  });

  it('counts a command that cannot be spawned as a failure with a clear message', async () => {
    const s = supervisor();
    const exits: unknown[] = [];
    s.onExit((e) => exits.push(e));
    s.start({ command: join(tmp.dir, 'no-such-binary'), args: [], env: {}, workingDir: tmp.dir }, { onFault: false });
    await waitFor(() => s.status().state === 'failed', 5000, 'failed');
    expect(s.status()).toMatchObject({ failureCount: 1, lastFaultReason: 'spawn', pid: null });
    expect(s.status().lastError).toMatch(/no-such-binary: command not found \(ENOENT\)/);
    expect(exits).toEqual([{ code: null, signal: null, expected: false }]);

    const retrying = supervisor();
    const backoffs: BackoffEvent[] = [];
    retrying.onBackoff((b) => backoffs.push(b));
    retrying.start(
      { command: process.execPath, args: [], env: {}, workingDir: join(tmp.dir, 'missing-dir') },
      { initialBackoffMs: 10, maxBackoffMs: 20 },
    );
    await waitFor(() => backoffs.length >= 2, 5000, 'two retries');
    expect(backoffs.map((b) => b.reason)).toEqual(['spawn', 'spawn']);
    expect(retrying.status().lastError).toMatch(/working directory .*missing-dir does not exist/);
  });
});

describe('process supervisor: output capture', () => {
  it('parses, files and tails stdout and stderr lines', async () => {
    const script = tmp.script(
      'talk.js',
      `console.log('2024-05-01 12:00:00.123 INFO http listening on 8080');
       console.error('boom');
       process.stdout.write('no newline at the end');
       setTimeout(() => process.exit(0), 50);`,
    );
    const lines: LogLine[] = [];
    const s = supervisor({ onLine: (l) => lines.push(l) });
    s.start(run(script), { onFault: false });
    await waitFor(() => lines.length >= 3 && s.status().state === 'failed', 5000, 'three lines');
    expect(lines.find((l) => l.stream === 'stdout' && l.unit === 'http')).toMatchObject({
      level: 'info',
      message: 'listening on 8080',
    });
    expect(lines.find((l) => l.stream === 'stderr')).toMatchObject({ level: 'error', unit: '', message: 'boom' });
    expect(s.tail(10)).toContain('no newline at the end');
    const file = readFileSync(join(tmp.dir, 'logs', 'svc.log'), 'utf8');
    expect(file).toContain('2024-05-01 12:00:00.123 INFO http listening on 8080\n');
    expect(file).toContain('boom\n');
  });

  it('stamps each line with the time it was written, within milliseconds, and names its process and version', async () => {
    const count = 9;
    const script = tmp.script(
      'clock.js',
      `let n = 0;
       const t = setInterval(() => {
         (n % 2 ? console.error : console.log)('written at ' + Date.now());
         if (++n === ${count}) clearInterval(t);
       }, 30);
       setInterval(() => {}, 1000);`,
    );
    const seen: { line: LogLine; origin: LineOrigin }[] = [];
    const s = supervisor({ onLine: (line, origin) => seen.push({ line, origin }) });
    s.start({ ...run(script), version: '7.1.0' });
    const pid = s.status().pid as number;
    pids.push(pid);
    await waitFor(() => seen.length >= count, 20_000, `${count} lines`);
    expect(seen.map((l) => l.origin)).toEqual(Array(count).fill({ pid, version: '7.1.0' }));
    // Lines without a timestamp of their own get the time they were read: read as they land, that
    // is within milliseconds of the write. The safety poll is once a second (a median lag of about
    // 500 ms), so the bound tells the two apart while leaving room for a busy machine.
    const lags = seen
      .map(({ line }) => Date.parse(line.time) - Number(line.message.split(' ')[2]))
      .sort((a, b) => a - b);
    expect(lags[0]).toBeGreaterThanOrEqual(0);
    expect(lags[Math.floor(count / 2)]).toBeLessThanOrEqual(250);
  });
});

describe.runIf(process.platform === 'linux')('process supervisor: restart conditions', () => {
  // Waits on events only (no deadline of its own): on a busy machine starting node and filling the
  // buffer can take long, but the outcome checked is the same.
  it('restarts a service whose process group exceeds maxMemoryMB', async () => {
    // Filling the buffer touches every page, so 200 MB are resident whatever the allocator does.
    const script = tmp.script(
      'hog.js',
      `const b = Buffer.alloc(200 * 1024 * 1024, 1); console.log('allocated', b.length); setInterval(() => {}, 1000);`,
    );
    const s = supervisor();
    const restarted = new Promise<BackoffEvent>((resolve) => s.onBackoff(resolve));
    const exited = new Promise<{ expected: boolean; signal: string | null }>((resolve) => s.onExit(resolve));
    // A restart delay far beyond the test: the state checked below cannot move on to a new start.
    s.start(run(script), { maxMemoryMB: 100, checkIntervalMs: 100, initialBackoffMs: 600_000 });
    const pid = s.status().pid as number;
    pids.push(pid);
    const backoff = await restarted;
    expect(backoff).toMatchObject({ reason: 'memory', failureCount: 1 });
    expect(await exited).toMatchObject({ expected: false, signal: 'SIGTERM' });
    expect(s.status()).toMatchObject({ state: 'backoff', lastFaultReason: 'memory', failureCount: 1 });
    expect(s.status().lastSignal).toBe('SIGTERM');
    const measured = Number(/^memory (\d+) MB above 100 MB$/.exec(s.status().lastError ?? '')?.[1]);
    expect(measured).toBeGreaterThan(100);
    expect(isAlive(pid)).toBe(false);
  }, 120_000);

  it('restarts a busy service on maxCpu, with SIGQUIT when makeCore is set', async () => {
    const marker = join(tmp.dir, 'quit');
    const script = tmp.script(
      'spin.js',
      `process.on('SIGQUIT', () => { require('node:fs').writeFileSync(${JSON.stringify(marker)}, 'quit'); process.exit(131); });
       const spin = () => { const end = Date.now() + 50; while (Date.now() < end) {} setImmediate(spin); };
       spin();`,
    );
    const s = supervisor({ conditionGraceMs: 1000 });
    const backoffs: BackoffEvent[] = [];
    s.onBackoff((b) => backoffs.push(b));
    s.start(run(script), {
      maxCpu: { percents: 40, durationSec: 0.3 },
      makeCore: true,
      checkIntervalMs: 100,
      initialBackoffMs: 5000,
    });
    await waitFor(() => s.status().pid && pids.push(s.status().pid as number), 5000, 'pid');
    await waitFor(() => backoffs.length >= 1, 10_000, 'cpu restart');
    expect(backoffs[0]?.reason).toBe('cpu');
    expect(readFileSync(marker, 'utf8')).toBe('quit');
    expect(s.status()).toMatchObject({ lastExitCode: 131, lastFaultReason: 'cpu' });
  });
});

describe('process supervisor: handing a running service to the next agent', () => {
  it('detaches without stopping it; the next supervisor adopts it, reads on, and restarts it when it dies', async () => {
    const script = tmp.script(
      'tick.js',
      `let n = 0;
       setInterval(() => console.log('tick ' + n++), 50);`,
    );
    const first = supervisor();
    first.start(run(script));
    await waitFor(() => first.tail(5).length > 0, 5000, 'first output');
    const pid = first.status().pid as number;
    pids.push(pid);
    first.detach();
    expect(first.status().state).toBe('stopped');
    expect(isAlive(pid)).toBe(true);
    const saved = JSON.parse(readFileSync(join(tmp.dir, 'logs', 'process.json'), 'utf8'));
    expect(saved.pid).toBe(pid);
    expect(saved.offsets.stdout).toBeGreaterThan(0);

    const lines: LogLine[] = [];
    const next = supervisor({ onLine: (l) => lines.push(l) });
    expect(next.adopt(run(script), { initialBackoffMs: 50 }, (p) => p === pid)).toBe(true);
    expect(next.status()).toMatchObject({ state: 'running', pid });
    // It goes on from where the first one stopped reading: no line lost, none twice.
    await waitFor(() => lines.length >= 3, 5000, 'output after the adoption');
    const first1 = Number(lines[0]?.message.split(' ')[1]);
    const lastSeen = Number(first.tail(1)[0]?.split(' ')[1]);
    expect(first1).toBe(lastSeen + 1);

    const exits: { expected: boolean }[] = [];
    next.onExit((e) => exits.push(e));
    process.kill(-pid, 'SIGKILL');
    await waitFor(() => exits.length > 0, 5000, 'the adopted process to be seen dead');
    expect(exits[0]?.expected).toBe(false);
    await waitFor(() => next.status().state === 'running' && next.status().pid !== pid, 5000, 'a restart');
    expect(next.status().failureCount).toBe(1);

    // A recorded process that the caller does not recognise (e.g. a reused pid) is not adopted.
    const restarted = next.status().pid as number;
    pids.push(restarted);
    next.detach();
    const third = supervisor();
    expect(third.adopt(run(script), {}, () => false)).toBe(false);
    expect(existsSync(join(tmp.dir, 'logs', 'process.json'))).toBe(false);
  });
});
