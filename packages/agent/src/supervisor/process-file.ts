// What a supervisor leaves in its log directory about the running process, so the next agent can
// adopt it: the pid, its start time, and how far its output files were read.
import { readFileSync, writeFileSync } from 'node:fs';
import { readProcStat } from './proc-stats.ts';

export interface ProcessFile {
  pid: number;
  startedAt: string;
  offsets?: { stdout: number; stderr: number };
}

export function recordProcess(file: string, info: ProcessFile, onError: (message: string) => void): void {
  try {
    writeFileSync(file, JSON.stringify(info));
  } catch (err) {
    onError((err as Error).message);
  }
}

/** The recorded process, or null when there is none or the file is not one of ours. */
export function readProcessRecord(file: string): ProcessFile | null {
  try {
    const saved = JSON.parse(readFileSync(file, 'utf8')) as ProcessFile;
    return Number.isInteger(saved.pid) && saved.pid > 0 ? saved : null;
  } catch {
    return null;
  }
}

/** Alive and not a zombie (an adopted process is not our child, so no exit event tells us). */
export function leaderAlive(pid: number): boolean {
  const stat = readProcStat(pid);
  return stat !== null && stat.state !== 'Z';
}
