// Safe extraction of a version's .tar.gz: every entry is checked before anything is written, the
// archive is extracted into a fresh temp dir, links are re-checked on disk, then it is renamed in place.
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readlinkSync, realpathSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, posix, relative, resolve, sep } from 'node:path';
import { archiveLinkProblem } from '@flotilla/protocol/archive-links';
import { fsyncDir } from '../journal/journal.ts';

export class UnsafeArchiveError extends Error {
  override name = 'UnsafeArchiveError';
}

export interface UnpackLimits {
  /** Total bytes of all files (default 2 GiB). */
  maxTotalBytes?: number;
  /** Number of entries (default 100,000). */
  maxEntries?: number;
}

const allowedTypes = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory', 'SymbolicLink', 'Link']);

interface EntryLike {
  path: string;
  type: string;
  size?: number | undefined;
  linkpath?: string | undefined;
}

/** Normalised relative path of an entry, or an error message when it could land outside the root. */
function entryPath(raw: string): string {
  if (raw.startsWith('/') || /^[A-Za-z]:/.test(raw) || raw.includes('\\'))
    throw new UnsafeArchiveError(`absolute path in archive: ${raw}`);
  if (raw.split('/').includes('..')) throw new UnsafeArchiveError(`".." in archive path: ${raw}`);
  const norm = posix.normalize(raw).replace(/\/+$/, '');
  if (norm === '..' || norm.startsWith('../')) throw new UnsafeArchiveError(`archive path escapes the root: ${raw}`);
  return norm === '' ? '.' : norm;
}

function checkEntries(entries: EntryLike[], limits: Required<UnpackLimits>): void {
  const symlinks = new Set<string>();
  let total = 0;
  for (const [i, e] of entries.entries()) {
    if (i >= limits.maxEntries) throw new UnsafeArchiveError(`archive has more than ${limits.maxEntries} entries`);
    if (!allowedTypes.has(e.type))
      throw new UnsafeArchiveError(`archive entry ${e.path} has a forbidden type ${e.type}`);
    const path = entryPath(e.path);
    // Writing through an earlier symlink would land wherever it points.
    const parts = path.split('/');
    for (let n = 1; n < parts.length; n++) {
      const prefix = parts.slice(0, n).join('/');
      if (symlinks.has(prefix))
        throw new UnsafeArchiveError(`archive entry ${e.path} is written through the symlink ${prefix}`);
    }
    if (e.type === 'SymbolicLink') {
      const target = e.linkpath ?? '';
      if (target === '' || target.startsWith('/'))
        throw new UnsafeArchiveError(`symlink ${e.path} points outside the root: ${target}`);
      const resolved = posix.normalize(posix.join(posix.dirname(path), target));
      if (resolved === '..' || resolved.startsWith('../'))
        throw new UnsafeArchiveError(`symlink ${e.path} points outside the root: ${target}`);
      symlinks.add(path);
    } else if (e.type === 'Link') {
      const target = entryPath(e.linkpath ?? '');
      if (symlinks.has(target)) throw new UnsafeArchiveError(`hard link ${e.path} points at a symlink`);
    } else if (e.type !== 'Directory') {
      total += e.size ?? 0;
      if (total > limits.maxTotalBytes)
        throw new UnsafeArchiveError(`archive unpacks to more than ${limits.maxTotalBytes} bytes`);
    }
  }
  // Links are judged on the whole tree: `l2 -> l1/..` climbs past the root once `l1 -> ..` exists.
  const problem = archiveLinkProblem(entries);
  if (problem) throw new UnsafeArchiveError(problem);
}

/** After extraction: every symlink, resolved on disk, must stay inside the root. */
function checkLinksOnDisk(root: string): void {
  const realRoot = realpathSync.native(root);
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      const st = lstatSync(p);
      if (st.isSymbolicLink()) {
        let target: string;
        try {
          // The kernel's realpath: Node's own resolves `link/..` lexically and misses climbing chains.
          target = realpathSync.native(p);
        } catch {
          target = resolve(dirname(p), readlinkSync(p)); // dangling: judge the literal target
        }
        const rel = relative(realRoot, target);
        if (rel === '..' || rel.startsWith(`..${sep}`) || resolve(realRoot, rel) !== target) {
          throw new UnsafeArchiveError(`symlink ${relative(root, p)} resolves outside the root`);
        }
      } else if (st.isDirectory()) walk(p);
      else if (!st.isFile()) throw new UnsafeArchiveError(`unexpected file type at ${relative(root, p)}`);
    }
  };
  walk(root);
}

/** Lists and checks every entry of `archive` without writing anything. */
export async function inspectArchive(archive: string, limits: UnpackLimits = {}): Promise<void> {
  const entries: EntryLike[] = [];
  const full = { maxTotalBytes: limits.maxTotalBytes ?? 2 * 1024 ** 3, maxEntries: limits.maxEntries ?? 100_000 };
  // Loaded on first use: an agent that has not unpacked anything never loads tar (~10 MB in a bare process).
  const { t } = await import('tar');
  await t({
    file: archive,
    onReadEntry: (e) => {
      if (entries.length <= full.maxEntries)
        entries.push({ path: e.path, type: e.type, size: e.size, linkpath: e.linkpath });
    },
  });
  checkEntries(entries, full);
}

/**
 * Extracts `archive` into `destination` (which must not be in use): checks all entries, extracts into
 * `<destination>.tmp-*` beside it, checks links on disk, then renames. A failure leaves nothing behind.
 */
export async function unpackArchive(archive: string, destination: string, limits: UnpackLimits = {}): Promise<void> {
  await inspectArchive(archive, limits);
  const parent = dirname(destination);
  mkdirSync(parent, { recursive: true });
  const tmp = `${destination}.tmp-${randomBytes(4).toString('hex')}`;
  mkdirSync(tmp);
  try {
    const { x } = await import('tar');
    await x({ file: archive, cwd: tmp, strict: true, preservePaths: false, preserveOwner: false, noChmod: false });
    checkLinksOnDisk(tmp);
    if (existsSync(destination)) rmSync(destination, { recursive: true, force: true });
    renameSync(tmp, destination);
    fsyncDir(parent);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** Removes temp dirs left by an unpack interrupted by a crash. */
export function removeUnpackLeftovers(versionsDir: string): void {
  if (!existsSync(versionsDir)) return;
  for (const name of readdirSync(versionsDir)) {
    if (/\.tmp-[0-9a-f]{8}$/.test(name)) rmSync(join(versionsDir, name), { recursive: true, force: true });
  }
}
