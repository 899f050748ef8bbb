/**
 * Link checks for release archives, shared by the server's publish check and the agent's unpack.
 * Link targets are resolved against the tree the archive builds, component by component, so a
 * link through another link (`l2 -> l1/..` where `l1 -> ..`) is judged where it really lands.
 */

/** One archive entry as far as the link checks need it. */
export interface ArchiveEntryLink {
  path: string;
  type: string;
  linkpath?: string | undefined;
}

/** How many links one resolution may follow, as in Linux's ELOOP limit. */
const maxLinkHops = 40;

function components(path: string): string[] {
  return path.split('/').filter((c) => c !== '' && c !== '.');
}

/** An entry's path without `./`, duplicate or trailing slashes; `..` components are kept. */
export function archivePathKey(path: string): string {
  return components(path).join('/');
}

/**
 * The final symlinks of an archive: a later entry at the same path replaces an earlier one, as
 * extraction does. Keys are `archivePathKey`s, values the raw link targets.
 */
export function archiveSymlinks(entries: Iterable<ArchiveEntryLink>): Map<string, string> {
  const links = new Map<string, string>();
  for (const e of entries) {
    const key = archivePathKey(e.path);
    if (e.type === 'SymbolicLink') links.set(key, e.linkpath ?? '');
    else links.delete(key);
  }
  return links;
}

/**
 * Where `target`, seen from directory `from`, lands inside the archive root after following every
 * symlink of `links` on the way; null when it leaves the root, is absolute or loops.
 */
export function resolveInArchive(links: Map<string, string>, from: string, target: string): string | null {
  if (target.startsWith('/') || target.includes('\\') || /^[A-Za-z]:/.test(target)) return null;
  const resolved: string[] = components(from);
  const pending = components(target).reverse();
  let hops = 0;
  while (pending.length > 0) {
    const part = pending.pop() as string;
    if (part === '..') {
      if (resolved.length === 0) return null;
      resolved.pop();
      continue;
    }
    resolved.push(part);
    const link = links.get(resolved.join('/'));
    if (link === undefined) continue;
    if (++hops > maxLinkHops || link === '' || link.startsWith('/') || link.includes('\\')) return null;
    resolved.pop();
    pending.push(...components(link).reverse());
  }
  return resolved.join('/');
}

/**
 * The first link problem of an archive's entries, judged on the tree they build: a symlink whose
 * target leaves the root, an entry written through a symlink, or a hard link whose target leaves the
 * root, passes through a symlink or is one. Undefined when there is none.
 */
export function archiveLinkProblem(entries: readonly ArchiveEntryLink[]): string | undefined {
  const links = archiveSymlinks(entries);
  for (const e of entries) {
    const parts = components(e.path);
    for (let n = 1; n < parts.length; n++) {
      const prefix = parts.slice(0, n).join('/');
      if (links.has(prefix)) return `entry "${e.path}" is written through the symlink "${prefix}"`;
    }
  }
  for (const [path, target] of links) {
    const dir = components(path).slice(0, -1).join('/');
    if (resolveInArchive(links, dir, target) === null) {
      return `symlink "${path}" -> "${target}" resolves outside the archive root`;
    }
  }
  for (const e of entries) {
    if (e.type !== 'Link') continue;
    const target = e.linkpath ?? '';
    const key = archivePathKey(target);
    if (links.has(key)) return `hard link "${e.path}" -> "${target}" points at a symlink`;
    // Hard links name a path from the root; the kernel would follow symlinks on the way to it.
    if (resolveInArchive(new Map(), '', target) === null || resolveInArchive(links, '', target) !== key) {
      return `hard link "${e.path}" -> "${target}" leaves the archive root or passes through a symlink`;
    }
  }
  return undefined;
}
