import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

const made: string[] = [];

const removeAll = () => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
};

// Registered when a test file first imports this module, so it runs after the file's own
// afterAll hooks (they run in reverse order), once servers and agents using the folders stopped.
// Scripts that seed demo data (screenshots, benchmarks) run outside vitest: they remove them at exit.
try {
  afterAll(removeAll);
} catch {
  process.once('exit', removeAll);
}

/** A fresh folder in the temporary directory, removed with everything in it when the test file ends. */
export function makeTempDir(prefix = 'flotilla-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}
