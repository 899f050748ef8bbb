// `--private-file <path>=<local file>` of a --local build: a file of this machine added to the version
// at <path>, as the server adds its stored private files to server builds (same path rules and limits).
import { copyFileSync, lstatSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { privateFileLimits, privatePathProblem } from '@flotilla/protocol';
import { CliError } from '../api-client.ts';

// The limits of a private file stored on the server, so a local build takes what a server build would.
const localPrivateFileLimits = { bytes: privateFileLimits.bytes, files: privateFileLimits.perService };

export interface LocalPrivateFile {
  path: string;
  file: string;
}

/** Parses `path=file` entries; an entry without `=` names a file stored on the server. */
export function parseLocalPrivateFiles(entries: string[]): LocalPrivateFile[] {
  if (entries.length > localPrivateFileLimits.files) {
    throw new CliError(`--private-file: at most ${localPrivateFileLimits.files} files`, 2);
  }
  const seen = new Set<string>();
  return entries.map((entry) => {
    const eq = entry.indexOf('=');
    if (eq < 0) {
      throw new CliError(
        `--private-file ${entry}: a --local build takes <path>=<local file>; a bare path names a file stored on the server, for builds on the server`,
        2,
      );
    }
    const path = entry.slice(0, eq);
    const file = entry.slice(eq + 1);
    const why = privatePathProblem(path);
    if (why) throw new CliError(`--private-file ${entry}: the path ${why}`, 2);
    if (path === 'flotilla.json') throw new CliError('--private-file: flotilla.json is written by the build', 2);
    if (seen.has(path)) throw new CliError(`--private-file: ${path} is given twice`, 2);
    seen.add(path);
    let size: number;
    try {
      const info = statSync(file);
      if (!info.isFile()) throw new Error('not a regular file');
      size = info.size;
    } catch (err) {
      throw new CliError(`--private-file ${entry}: cannot read ${file}: ${(err as Error).message}`, 2);
    }
    if (size > localPrivateFileLimits.bytes) {
      throw new CliError(
        `--private-file ${entry}: a private file may hold at most ${localPrivateFileLimits.bytes} bytes`,
        2,
      );
    }
    return { path, file };
  });
}

/**
 * A --local build's private files, staged in a fresh temporary directory only this user reads, laid out
 * like a server job's `private/`; `remove` (also run at exit) deletes it. Undefined without files.
 */
export function stageForLocalBuild(files: LocalPrivateFile[]): { dir: string; remove: () => void } | undefined {
  if (files.length === 0) return undefined;
  const root = mkdtempSync(join(tmpdir(), 'flotilla-private-'));
  const remove = () => rmSync(root, { recursive: true, force: true });
  process.once('exit', remove);
  return { dir: stageLocalPrivateFiles(files, join(root, 'private')), remove };
}

/** Copies the files into a fresh directory (0700, files 0600) laid out like a server job's `private/`. */
function stageLocalPrivateFiles(files: LocalPrivateFile[], dir: string): string {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const { path, file } of files) {
    const target = join(dir, path);
    mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
    copyFileSync(file, target);
    if (lstatSync(target).size > localPrivateFileLimits.bytes) {
      throw new CliError(`--private-file ${path}: ${file} grew past ${localPrivateFileLimits.bytes} bytes`, 2);
    }
  }
  return dir;
}
