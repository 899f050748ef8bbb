// Writes the computed outputs so that a failure leaves the build tree as it was: every file is
// written beside its target first, and only when all are written are they renamed into place.
import { chmodSync, copyFileSync, existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export type Output = { dest: string; content: string } | { dest: string; copyFrom: string };

export function writeStaged(outputs: readonly Output[]): void {
  const staged: { temp: string; dest: string }[] = [];
  const createdDirs: string[] = [];
  try {
    for (const [n, output] of outputs.entries()) {
      const dir = dirname(output.dest);
      if (!existsSync(dir)) {
        let top = dir;
        while (!existsSync(dirname(top))) top = dirname(top);
        mkdirSync(dir, { recursive: true });
        createdDirs.push(top);
      }
      const temp = `${output.dest}.overlay-${process.pid}-${n}.tmp`;
      staged.push({ temp, dest: output.dest });
      if ('copyFrom' in output) copyFileSync(output.copyFrom, temp);
      else {
        writeFileSync(temp, output.content);
        if (existsSync(output.dest)) chmodSync(temp, statSync(output.dest).mode & 0o7777);
      }
    }
  } catch (error) {
    // best effort: the error that matters is the one that stopped the writing
    for (const path of [...staged.map((s) => s.temp), ...createdDirs.reverse()]) {
      try {
        rmSync(path, { recursive: true, force: true });
      } catch {}
    }
    throw error;
  }
  // Renames within one directory do not fail for want of space; this is the only step left.
  for (const { temp, dest } of staged) renameSync(temp, dest);
}
