import { describe, expect, it } from 'vitest';
import { type ArchiveEntryLink, archiveLinkProblem, archiveSymlinks, resolveInArchive } from './archive-links.ts';

const link = (path: string, linkpath: string): ArchiveEntryLink => ({ path, type: 'SymbolicLink', linkpath });

/** `d/l1 -> ..`, `d/l2 -> l1/..`, … `d/rootfs -> l14/..`: each hop climbs one more level, ending at `/`. */
function climbingChain(dir = 'd'): ArchiveEntryLink[] {
  const entries: ArchiveEntryLink[] = [{ path: `${dir}/`, type: 'Directory' }, link(`${dir}/l1`, '..')];
  for (let k = 2; k <= 14; k++) entries.push(link(`${dir}/l${k}`, `l${k - 1}/..`));
  entries.push(link(`${dir}/rootfs`, 'l14/..'));
  return entries;
}

describe('archive link checks', () => {
  it('refuses the chain l1 -> .., l2 -> l1/.., … rootfs -> l14/.. that ends at /', () => {
    const entries = climbingChain();
    expect(archiveLinkProblem(entries)).toMatch(/symlink "d\/l2" -> "l1\/.." resolves outside the archive root/);
    // Each link alone looks inside when read literally; only following l1 shows l2 leaving.
    expect(resolveInArchive(new Map(), 'd', 'l1/..')).toBe('d');
    expect(resolveInArchive(archiveSymlinks(entries), 'd', 'l1/..')).toBeNull();
    expect(resolveInArchive(archiveSymlinks(entries), 'd', 'rootfs')).toBeNull();
  });

  it('refuses the chain when the link it climbs through comes later in the archive', () => {
    const entries = climbingChain().reverse();
    expect(archiveLinkProblem(entries)).toMatch(/resolves outside the archive root/);
  });

  it('accepts chains and links that stay inside', () => {
    const entries: ArchiveEntryLink[] = [
      { path: 'a/b/c/', type: 'Directory' },
      link('a/b/c/l1', '..'),
      link('a/b/c/l2', 'l1/..'),
      link('a/b/c/l3', 'l2/..'),
      { path: 'bin/run.sh', type: 'File' },
      link('run', 'bin/run.sh'),
      link('a/b/up', '../../bin'),
      link('tool', 'a/b/up/run.sh'),
      link('dangling', 'not/there'),
      { path: 'hard', type: 'Link', linkpath: 'bin/run.sh' },
    ];
    expect(archiveLinkProblem(entries)).toBeUndefined();
    const links = archiveSymlinks(entries);
    expect(resolveInArchive(links, 'a/b/c', 'l3')).toBe('');
    expect(resolveInArchive(links, '', 'tool')).toBe('bin/run.sh');
  });

  it.each([
    ['an absolute target', [link('etc', '/etc')], /"etc" -> "\/etc" resolves outside/],
    ['a loop', [link('a', 'b'), link('b', 'a'), link('c', 'a/x')], /resolves outside/],
    ['a write through a link', [link('d', 'sub'), { path: 'd/x', type: 'File' }], /written through the symlink "d"/],
    [
      'a hard link through a link',
      [{ path: 'sub/x', type: 'File' }, link('d', 'sub'), { path: 'h', type: 'Link', linkpath: 'd/x' }],
      /hard link "h" -> "d\/x" leaves the archive root or passes through a symlink/,
    ],
    ['a hard link to a link', [link('s', 'f'), { path: 'h', type: 'Link', linkpath: 's' }], /points at a symlink/],
    ['a hard link upwards', [{ path: 'h', type: 'Link', linkpath: '../etc/passwd' }], /leaves the archive root/],
  ])('refuses %s', (_name, entries, message) => {
    expect(archiveLinkProblem(entries as ArchiveEntryLink[])).toMatch(message);
  });

  it('judges the final tree: a later file replaces an earlier link', () => {
    expect(archiveLinkProblem([link('x', '../..'), { path: 'x', type: 'File' }])).toBeUndefined();
  });
});
