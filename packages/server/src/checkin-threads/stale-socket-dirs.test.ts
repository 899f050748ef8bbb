import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeTempDir } from '../../test/support/temp-dir.ts';
import { privateSocketPath } from './pool.ts';
import { removeStaleSocketDirs } from './stale-socket-dirs.ts';

/** A socket folder as a server killed with SIGKILL leaves it, renamed to `name(pid)`; returns its path. */
async function killedServerDir(parent: string, name: (pid: number) => string): Promise<string> {
  const dir = mkdtempSync(join(parent, 'scratch-'));
  const listenThenDie =
    "require('node:net').createServer().listen(process.argv[1], () => process.kill(process.pid, 'SIGKILL'))";
  const child = spawn(process.execPath, ['-e', listenThenDie, join(dir, 'http.sock')], { stdio: 'ignore' });
  const [, signal] = await once(child, 'exit');
  expect(signal).toBe('SIGKILL');
  expect(existsSync(join(dir, 'http.sock'))).toBe(true);
  const named = join(parent, name(child.pid as number));
  renameSync(dir, named);
  return named;
}

const listening: Server[] = [];
afterEach(async () => {
  await Promise.all(listening.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

async function listenIn(dir: string): Promise<void> {
  const server = createServer();
  listening.push(server);
  await new Promise<void>((resolve) => server.listen(join(dir, 'http.sock'), resolve));
}

describe('stale private socket folders', () => {
  it('removes the folder of a server killed by SIGKILL, and of one named before folders carried the pid', async () => {
    const parent = makeTempDir('flotilla-stale-');
    const killed = await killedServerDir(parent, (pid) => `flotilla-sock-${pid}-AbC123`);
    const older = await killedServerDir(parent, () => 'flotilla-Xy9z01');

    expect((await removeStaleSocketDirs(parent)).sort()).toEqual([older, killed].sort());
    expect(existsSync(killed)).toBe(false);
    expect(existsSync(older)).toBe(false);
  });

  it("never removes a running server's folder, nor one it cannot prove is a dead server's", async () => {
    const parent = makeTempDir('flotilla-stale-');
    const killed = await killedServerDir(parent, (pid) => `flotilla-sock-${pid}-Dead01`);
    const deadPid = Number(/flotilla-sock-(\d+)-/.exec(killed)?.[1]);
    // Their recorded process is gone or unknown, but something listens on their socket.
    const listened = join(parent, `flotilla-sock-${deadPid}-Lstn01`);
    const listenedOlder = join(parent, 'flotilla-Lstn02');
    for (const dir of [listened, listenedOlder]) {
      mkdirSync(dir, { mode: 0o700 });
      await listenIn(dir);
    }
    // A dead socket, but the recorded process (this one) runs.
    const ownPid = await killedServerDir(parent, () => `flotilla-sock-${process.pid}-Alive1`);
    // More than a socket inside, or no socket at all.
    const extra = await killedServerDir(parent, (pid) => `flotilla-sock-${pid}-Extra1`);
    writeFileSync(join(extra, 'notes.txt'), 'not ours');
    const noSocket = join(parent, 'flotilla-Plain1');
    mkdirSync(noSocket);
    writeFileSync(join(noSocket, 'http.sock'), 'a plain file');
    // Another tool's folder.
    const other = await killedServerDir(parent, () => 'flotilla-art-Other1');

    expect(await removeStaleSocketDirs(parent)).toEqual([killed]);
    for (const kept of [listened, listenedOlder, ownPid, extra, noSocket, other]) {
      expect(existsSync(kept), kept).toBe(true);
    }
  });

  it('a server starting with check-in threads removes stale folders from the temporary directory', async () => {
    const stale = await killedServerDir(tmpdir(), (pid) => `flotilla-sock-${pid}-Start1`);
    const socket = privateSocketPath();
    try {
      expect(socket.path.startsWith(join(tmpdir(), `flotilla-sock-${process.pid}-`))).toBe(true);
      const deadline = Date.now() + 5000;
      while (existsSync(stale) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(existsSync(stale)).toBe(false);
    } finally {
      socket.remove();
    }
  });
});
