// Finds and ends service processes that a crashed agent left running (they carry the service marker).
import { readdirSync, readFileSync } from 'node:fs';
import { serviceMarkerEnv } from './commands.ts';

/** Pids whose environment names `serviceDir` (Linux /proc; empty elsewhere). */
export function markedProcesses(serviceDir: string): number[] {
  const needle = `${serviceMarkerEnv}=${serviceDir}\0`;
  const pids: number[] = [];
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const name of names) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const env = readFileSync(`/proc/${name}/environ`, 'latin1');
      if (`${env}\0`.includes(needle)) pids.push(Number(name));
    } catch {
      // exited, or not ours to read
    }
  }
  return pids;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return !isZombie(pid);
  } catch {
    return false;
  }
};

function isZombie(pid: number): boolean {
  try {
    return /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return false;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, sig);
    } catch {}
  }
}

/** SIGTERM then, after `graceMs`, SIGKILL to every marked process (and its group); resolves when all are gone. */
export async function killOrphans(serviceDir: string, graceMs = 5000): Promise<number[]> {
  const pids = markedProcesses(serviceDir);
  if (pids.length === 0) return [];
  for (const pid of pids) signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  for (const pid of pids.filter(alive)) signal(pid, 'SIGKILL');
  const hard = Date.now() + 5000;
  while (pids.some(alive) && Date.now() < hard) await new Promise((r) => setTimeout(r, 20));
  return pids;
}
