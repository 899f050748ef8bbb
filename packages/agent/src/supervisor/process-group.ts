// Signals to a service's whole process group, with escalation to SIGKILL.
import { isGroupAlive } from './proc-stats.ts';

const pollMs = 25;
const killWaitMs = 5000;

export interface GroupLog {
  warn(message: string): void;
  error(message: string): void;
}

export function signalProcessGroup(pgid: number, signal: NodeJS.Signals, log: GroupLog): void {
  try {
    process.kill(-pgid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') log.warn(`kill ${signal}: ${String(err)}`);
  }
}

/** Signals the group, escalates to SIGKILL after `graceMs`, resolves once the leader and the group are gone. */
export async function terminateGroup(
  pgid: number,
  signal: NodeJS.Signals,
  graceMs: number,
  leaderExited: () => boolean,
  log: GroupLog,
): Promise<void> {
  signalProcessGroup(pgid, signal, log);
  const deadline = Date.now() + graceMs;
  let killDeadline: number | null = null;
  for (;;) {
    if (leaderExited() && !isGroupAlive(pgid)) return;
    const t = Date.now();
    if (killDeadline === null && t >= deadline) {
      log.warn(`process group ${pgid} still running after ${graceMs} ms; sending SIGKILL`);
      signalProcessGroup(pgid, 'SIGKILL', log);
      killDeadline = t + killWaitMs;
    } else if (killDeadline !== null && t >= killDeadline) {
      log.error(`process group ${pgid} did not exit after SIGKILL`);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
