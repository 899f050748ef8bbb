import { readdirSync, readFileSync } from 'node:fs';

/** USER_HZ: the unit of utime/stime in /proc/<pid>/stat; 100 on every mainstream Linux build. */
export const clockTicksPerSecond = 100;

export interface ProcStat {
  pid: number;
  /** R, S, D, Z, T, … */
  state: string;
  ppid: number;
  pgrp: number;
  /** utime + stime, in clock ticks. */
  cpuTicks: number;
}

export interface GroupUsage {
  /** Live (non-zombie) members of the process group. */
  pids: number[];
  rssBytes: number;
  cpuTicks: number;
}

/** Parses /proc/<pid>/stat; null when the process is gone or /proc is unavailable. */
export function readProcStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) is in parentheses and may itself contain spaces or ')'.
  const close = text.lastIndexOf(')');
  if (close === -1) return null;
  const fields = text.slice(close + 2).split(' ');
  const num = (i: number) => Number(fields[i] ?? Number.NaN);
  const stat = { pid, state: fields[0] ?? '?', ppid: num(1), pgrp: num(2), cpuTicks: num(11) + num(12) };
  return Number.isFinite(stat.pgrp) && Number.isFinite(stat.cpuTicks) ? stat : null;
}

/** VmRSS from /proc/<pid>/status, in bytes; null when gone (zombies and kernel threads have none: 0). */
export function readRssBytes(pid: number): number | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(text);
  return match ? Number(match[1]) * 1024 : 0;
}

/** Live members of process group `pgid`, found by scanning /proc/[0-9]+/stat. */
export function groupMembers(pgid: number): ProcStat[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const members: ProcStat[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readProcStat(Number(entry));
    if (stat && stat.pgrp === pgid && stat.state !== 'Z' && stat.state !== 'X') members.push(stat);
  }
  return members;
}

/** Memory and CPU time summed over the group's live members. */
export function readGroupUsage(pgid: number): GroupUsage {
  const members = groupMembers(pgid);
  let rssBytes = 0;
  let cpuTicks = 0;
  for (const member of members) {
    rssBytes += readRssBytes(member.pid) ?? 0;
    cpuTicks += member.cpuTicks;
  }
  return { pids: members.map((m) => m.pid), rssBytes, cpuTicks };
}

/** True while a non-zombie process is in group `pgid` (zombies hold no resources and cannot be killed). */
export function isGroupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  if (process.platform !== 'linux') return true;
  return groupMembers(pgid).length > 0;
}
