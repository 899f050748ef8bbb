import { lstatSync, readdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';

/** A private socket folder is `flotilla-sock-<pid>-XXXXXX`, so a later server can tell its own. */
export const socketDirPrefix = 'flotilla-sock-';
export const socketFileName = 'http.sock';

const named = /^flotilla-sock-(\d+)-[A-Za-z0-9]{6}$/;
// Before folders carried the pid they were `flotilla-XXXXXX`; only their refusing socket proves them stale.
const legacy = /^flotilla-[A-Za-z0-9]{6}$/;

/**
 * Removes the private socket folders in `parent` that servers killed before their cleanup left:
 * only folders this user owns, holding nothing but a socket that no process listens on, whose
 * recorded process is gone. Returns the folders removed.
 */
export async function removeStaleSocketDirs(parent: string): Promise<string[]> {
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const pid = named.exec(name)?.[1];
    if (pid === undefined ? !legacy.test(name) : isAlive(Number(pid))) continue;
    const dir = join(parent, name);
    if (!(await holdsDeadSocket(dir))) continue;
    rmSync(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  return removed;
}

async function holdsDeadSocket(dir: string): Promise<boolean> {
  try {
    const folder = lstatSync(dir);
    if (!folder.isDirectory() || folder.uid !== process.getuid?.()) return false;
    const entries = readdirSync(dir);
    if (entries.length !== 1 || entries[0] !== socketFileName) return false;
    if (!lstatSync(join(dir, socketFileName)).isSocket()) return false;
    return await refused(join(dir, socketFileName));
  } catch {
    return false;
  }
}

/** True only when connecting is refused: a socket file whose listener is gone. */
function refused(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

/** Whether a process with this id exists (ours or another user's). */
export function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}
