import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll } from 'vitest';

// Each test file gets its own TMPDIR (see vitest.global-setup.ts); whatever it and the processes it
// started leave there fails the file, named, so a leak is found where it is made.
const base = process.env.FLOTILLA_TEST_TMP_BASE;
const run = process.env.FLOTILLA_TEST_RUN;
if (base && run) {
  const dir = mkdtempSync(join(base, `flotilla-run${run}-`));
  process.env.TMPDIR = dir;
  afterAll(async () => {
    // A process the file stopped may still be removing its own folder.
    let left = readdirSync(dir);
    for (let waited = 0; left.length > 0 && waited < 2000; waited += 100) {
      await sleep(100);
      left = readdirSync(dir);
    }
    rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
    if (left.length > 0) {
      throw new Error(
        `the file left ${left.join(', ')} in the temporary directory: remove what a test makes (makeTempDir in packages/server/test/support/temp-dir.ts does)`,
      );
    }
  });
}
