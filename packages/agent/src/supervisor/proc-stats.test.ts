import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isAlive, killGroup, tempDir, waitFor } from './fixtures.test.helper.ts';
import { groupMembers, isGroupAlive, readGroupUsage, readProcStat, readRssBytes } from './proc-stats.ts';

let tmp: ReturnType<typeof tempDir>;
let leader: ChildProcess | null = null;

beforeEach(() => {
  tmp = tempDir('proc');
});
afterEach(() => {
  killGroup(leader?.pid);
  leader = null;
  tmp.cleanup();
});

/** Starts a detached group: a leader holding ~60 MB that spawns one busy grandchild; returns both pids. */
async function startGroup(): Promise<[number, number]> {
  const pidFile = join(tmp.dir, 'pids');
  const busy = tmp.script(
    'busy.js',
    'const spin = () => { const end = Date.now() + 50; while (Date.now() < end) {} setImmediate(spin); }; spin();',
  );
  const script = tmp.script(
    'leader.js',
    `const b = Buffer.alloc(60 * 1024 * 1024, 1);
     const c = require('node:child_process').spawn(process.execPath, [${JSON.stringify(busy)}], { stdio: 'ignore' });
     require('node:fs').writeFileSync(${JSON.stringify(pidFile)}, process.pid + ' ' + c.pid + ' ' + b.length);
     setInterval(() => {}, 1000);`,
  );
  leader = spawn(process.execPath, [script], { detached: true, stdio: 'ignore' });
  const text = await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8'), 5000, 'pids');
  const [a, b] = text.split(' ').map(Number) as [number, number];
  return [a, b];
}

describe.runIf(process.platform === 'linux')('proc stats', () => {
  it('reads this process', () => {
    const stat = readProcStat(process.pid);
    expect(stat).toMatchObject({ pid: process.pid, ppid: process.ppid });
    expect(stat?.cpuTicks).toBeGreaterThan(0);
    expect(readRssBytes(process.pid)).toBeGreaterThan(10 * 1024 * 1024);
    expect(readProcStat(2 ** 22 + 12345)).toBeNull();
    expect(readRssBytes(2 ** 22 + 12345)).toBeNull();
  });

  it('finds the members of a process group and sums their memory and CPU', async () => {
    const [lead, child] = await startGroup();
    expect(readProcStat(child)?.pgrp).toBe(lead);
    expect(
      groupMembers(lead)
        .map((m) => m.pid)
        .sort(),
    ).toEqual([lead, child].sort());
    const first = readGroupUsage(lead);
    expect(first.rssBytes).toBeGreaterThan(60 * 1024 * 1024);
    expect(first.rssBytes).toBeGreaterThan((readRssBytes(lead) ?? 0) + 1024 * 1024);
    // The busy grandchild's CPU time counts for the group. Waited for, not timed: on a busy machine
    // it may get far less than a core.
    const ticks = (pid: number) => readProcStat(pid)?.cpuTicks ?? Number.NaN;
    await waitFor(() => ticks(child) > ticks(lead) + 10, 20_000, 'the grandchild to burn CPU');
    const members = ticks(lead) + ticks(child);
    const second = readGroupUsage(lead);
    expect(second.cpuTicks - first.cpuTicks).toBeGreaterThan(0);
    // Read after its members' own counts, the group's sum holds both (the leader alone has far less).
    expect(second.cpuTicks).toBeGreaterThanOrEqual(members);
    expect(isGroupAlive(lead)).toBe(true);

    process.kill(-lead, 'SIGKILL');
    await waitFor(() => !isGroupAlive(lead), 5000, 'group gone');
    expect(groupMembers(lead)).toEqual([]);
    // The orphaned grandchild is reaped by init shortly after.
    await waitFor(() => !isAlive(child), 5000, 'grandchild reaped');
  });
});
