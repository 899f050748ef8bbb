// Lists the files of a tree and checks that every path the engine reads or writes stays inside
// its tree, symbolic links included.
import { lstatSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';
import { BuildInputError } from '../macros.ts';

export interface TreeFile {
  /** Relative path with `/` separators. */
  rel: string;
  /** Where to read it: the file itself, or the target of a link that stays inside the tree. */
  abs: string;
  size: number;
}

/** True when `path` (already resolved) is `root` or below it. */
export function isInside(root: string, path: string): boolean {
  const r = relative(root, path);
  return r === '' || (!r.startsWith(`..${sep}`) && r !== '..' && !isAbsolute(r));
}

/** Refuses a relative path that is absolute, climbs with `..`, or is empty. */
export function checkRelative(rel: string, label: string): void {
  const parts = rel.split('/');
  if (
    rel === '' ||
    isAbsolute(rel) ||
    rel.includes('\\') ||
    rel.includes('\0') ||
    parts.some((p) => p === '' || p === '.' || p === '..')
  )
    throw new BuildInputError(label, undefined, 'path leaves the tree or is not a plain relative path');
}

export interface WalkOptions {
  /** Label of the tree in errors (`acme/` for a settings tree, empty for the build tree). */
  label: string;
  /** Settings trees refuse every link that leaves them; the build tree only skips such links. */
  strict: boolean;
  maxFiles: number;
  /** Directory names left out wherever they are (`.git` of a cloned settings repository). */
  skipDirs?: readonly string[];
}

export function walkTree(root: string, options: WalkOptions): Map<string, TreeFile> {
  const realRoot = realpathSync(root);
  const files = new Map<string, TreeFile>();
  const visit = (dir: string, prefix: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const rel = prefix + entry.name;
      const abs = join(dir, entry.name);
      const label = options.label + rel;
      if (entry.isDirectory()) {
        if (!options.skipDirs?.includes(entry.name)) visit(abs, `${rel}/`);
        continue;
      }
      let target = abs;
      if (entry.isSymbolicLink()) {
        let real: string;
        try {
          real = realpathSync(abs);
        } catch {
          throw new BuildInputError(label, undefined, 'symbolic link to nothing');
        }
        if (!isInside(realRoot, real)) {
          if (options.strict) throw new BuildInputError(label, undefined, 'symbolic link points outside its tree');
          continue;
        }
        if (statSync(real).isDirectory()) {
          if (options.strict)
            throw new BuildInputError(label, undefined, 'symbolic links to directories are not followed');
          continue;
        }
        target = real;
      } else if (!entry.isFile()) {
        if (options.strict) throw new BuildInputError(label, undefined, 'not a regular file');
        continue;
      }
      if (files.size >= options.maxFiles)
        throw new BuildInputError(options.label || '.', undefined, `more than ${options.maxFiles} files`);
      files.set(rel, { rel, abs: target, size: statSync(target).size });
    }
  };
  visit(realRoot, '');
  return files;
}

/**
 * Where a relative path of the build tree is written: every existing ancestor must be a directory
 * inside the tree (a link leading out is refused), and an existing link to a file inside is followed.
 */
export function resolveForWrite(realRoot: string, rel: string): string {
  checkRelative(rel, rel);
  const parts = rel.split('/');
  let current = realRoot;
  for (const [index, part] of parts.entries()) {
    const next = join(current, part);
    let stat: ReturnType<typeof lstatSync>;
    try {
      stat = lstatSync(next);
    } catch {
      return join(next, ...parts.slice(index + 1)); // the rest is created
    }
    let real = next;
    if (stat.isSymbolicLink()) {
      real = realpathSync(next);
      if (!isInside(realRoot, real))
        throw new BuildInputError(
          rel,
          undefined,
          `${parts.slice(0, index + 1).join('/')} is a link that leaves the tree`,
        );
      stat = statSync(real);
    }
    const last = index === parts.length - 1;
    if (!last && !stat.isDirectory())
      throw new BuildInputError(rel, undefined, `${parts.slice(0, index + 1).join('/')} is a file in the build tree`);
    if (last && stat.isDirectory()) throw new BuildInputError(rel, undefined, 'is a directory in the build tree');
    current = real;
  }
  return current;
}
