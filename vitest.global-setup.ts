import { execFileSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAlive } from './packages/server/src/checkin-threads/stale-socket-dirs.ts';

const runFolder = /^flotilla-run(\d+)-\w{6}$/;
// A Unix socket path has at most 107 bytes; servers make theirs inside the test file's folder.
const maxBaseLength = 107 - '/flotilla-run0000000-XXXXXX'.length - '/flotilla-sock-0000000-XXXXXX/http.sock'.length;

/**
 * Runs once per run, before any test file: builds the dashboard when its sources changed (its
 * browser tests serve it), says once which suites are skipped, and has each test file work in a
 * temporary folder of its own (vitest.setup.ts) that must be empty when the file ends.
 */
export default function setup(): () => void {
  execFileSync(process.execPath, ['scripts/ensure-dashboard.mjs', '--quiet'], { stdio: 'inherit' });
  if (!process.env.FLOTILLA_TEST_POSTGRES_URL) {
    console.warn(
      'PostgreSQL variants of the store tests are skipped: set FLOTILLA_TEST_POSTGRES_URL (`bash .ci/postgres.sh | tail -1` starts PostgreSQL on loopback and prints it)',
    );
  }
  const base = tmpdir();
  if (base.length > maxBaseLength) {
    console.warn(
      `temporary folders are not checked for leftovers: TMPDIR (${base}) is too long for socket paths in it`,
    );
    return () => {};
  }
  removeRunFolders(base, (pid) => !isAlive(pid));
  // Test workers start after this and inherit both.
  process.env.FLOTILLA_TEST_TMP_BASE = base;
  process.env.FLOTILLA_TEST_RUN = String(process.pid);
  return () => {
    // Only left when a file's own check could not run (its worker died) or a process outlived it.
    const left = removeRunFolders(base, (pid) => pid === process.pid);
    if (left.length > 0) {
      console.error(`\nFAIL  the tests left ${left.length} entries in the temporary directory: ${left.join(', ')}`);
      process.exitCode = 1;
    }
  };
}

/** Removes the test files' folders of the runs `which` picks; returns what was inside them. */
function removeRunFolders(base: string, which: (pid: number) => boolean): string[] {
  const left: string[] = [];
  for (const name of readdirSync(base)) {
    const pid = Number(runFolder.exec(name)?.[1]);
    if (!(pid > 0) || !which(pid)) continue;
    const dir = join(base, name);
    try {
      left.push(...readdirSync(dir).map((entry) => join(dir, entry)));
    } catch {
      continue; // another run starting at the same time removed it
    }
    rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
  }
  return left;
}
