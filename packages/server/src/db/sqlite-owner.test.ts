import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { claimSqliteDatabase } from './sqlite-owner.ts';

const moduleUrl = new URL('./sqlite-owner.ts', import.meta.url).href;

/** Another process holding the database, as a second server would; it says "held" once it has the lock. */
function holder(database: string, untilReplaced: boolean): Promise<ChildProcess> {
  const script = `
    const { claimSqliteDatabase } = await import(${JSON.stringify(moduleUrl)});
    const owner = await claimSqliteDatabase(${JSON.stringify(database)}, { untilReplaced: ${untilReplaced} });
    owner.listening('http://127.0.0.1:8399');
    process.on('SIGTERM', () => { owner.release(); process.exit(0); });
    console.log('held');
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => chunk.toString().includes('held') && resolve(child));
    child.once('exit', (code) => reject(new Error(`holder exited with ${code}`)));
  });
}

const exited = (child: ChildProcess) =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise<void>((r) => child.once('exit', () => r()));

describe('one server per SQLite database', () => {
  let dir: string;
  let database: string;
  const children: ChildProcess[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'flotilla-owner-'));
    database = join(dir, 'flotilla.db');
  });
  afterEach(async () => {
    for (const child of children.splice(0)) {
      child.kill('SIGKILL');
      await exited(child);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a second claim, naming the holder, and allows one after release', async () => {
    const first = await claimSqliteDatabase(database);
    first.listening('http://127.0.0.1:8314');
    await expect(claimSqliteDatabase(database)).rejects.toThrow(
      new RegExp(
        `another flotilla server \\(pid ${process.pid} .*listening on http://127\\.0\\.0\\.1:8314.*one SQLite database serves one server`,
      ),
    );
    expect(statSync(`${database}.owner`).mode & 0o777).toBe(0o600);
    expect(statSync(`${database}.owner.json`).mode & 0o777).toBe(0o600);
    first.release();
    const second = await claimSqliteDatabase(database);
    second.release();
  });

  it('refuses while another process holds it, and takes over at once after that process is killed', async () => {
    const child = await holder(database, false);
    children.push(child);
    await expect(claimSqliteDatabase(database, { takeOverMs: 500 })).rejects.toThrow(`pid ${child.pid} `);
    child.kill('SIGKILL');
    await exited(child);
    // No stale lock: the kernel released it with the process.
    const owner = await claimSqliteDatabase(database, { takeOverMs: 0 });
    owner.release();
  });

  it('stops a server started --until-replaced and takes its place', async () => {
    const child = await holder(database, true);
    children.push(child);
    const owner = await claimSqliteDatabase(database);
    await exited(child);
    expect(child.exitCode).toBe(0);
    owner.release();
  });
});
