import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BuildStepError } from './step-error.ts';

/** Only one build at a time in a work directory (made 0700 if missing); a lock left by a dead process is taken over. */
export function lockWorkdir(workdir: string): () => void {
  mkdirSync(workdir, { recursive: true, mode: 0o700 });
  const path = join(workdir, 'build.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(readFileSync(path, 'utf8'));
      if (pid > 0 && pid !== process.pid && alive(pid)) {
        throw new BuildStepError('work directory', `${workdir} is in use by another build (pid ${pid})`);
      }
      rmSync(path, { force: true });
    }
  }
  throw new BuildStepError('work directory', `cannot lock ${workdir}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
