// A server build's private files: decrypted by the server into a directory of the job, added to the
// version at the same relative paths, readable by their owner only.
import { chmodSync, copyFileSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { BuildStepError } from './step-error.ts';

/** Copies every regular file under `from` into `buildDir`; returns their paths. */
export function addPrivateFiles(from: string, buildDir: string): string[] {
  const added: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(from, rel)).sort()) {
      const path = rel === '' ? name : posix.join(rel, name);
      const stat = lstatSync(join(from, path));
      if (stat.isDirectory()) walk(path);
      else if (stat.isFile()) added.push(path);
    }
  };
  walk('');
  for (const path of added) {
    if (path === 'flotilla.json') throw new BuildStepError('private files', 'flotilla.json is written by the build');
    const target = join(buildDir, path);
    // Nothing is written through a symlink the copied files left in the build directory.
    for (let dir = dirname(path); dir !== '.'; dir = posix.dirname(dir)) {
      const at = join(buildDir, dir);
      try {
        if (lstatSync(at).isSymbolicLink())
          throw new BuildStepError('private files', `${dir} is a symlink in the version`);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    mkdirSync(dirname(target), { recursive: true });
    try {
      if (lstatSync(target).isSymbolicLink() || lstatSync(target).isDirectory()) {
        throw new BuildStepError('private files', `${path} is a symlink or directory in the version`);
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    copyFileSync(join(from, path), target);
    chmodSync(target, 0o600);
  }
  return added;
}
