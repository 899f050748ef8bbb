import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Header } from 'tar';
import { afterAll, describe, expect, it } from 'vitest';
import { UnsafeArchiveError, unpackArchive } from './unpack.ts';

const work = mkdtempSync(join(tmpdir(), 'flotilla-unpack-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface RawEntry {
  path: string;
  type?: string;
  body?: string;
  linkpath?: string;
}

/** A .tar.gz built header by header, so it can hold entries a normal packer refuses to write. */
function archive(name: string, entries: RawEntry[]): string {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.body ?? '');
    const header = new Header({
      path: e.path,
      type: (e.type ?? 'File') as never,
      size: body.length,
      mode: 0o644,
      linkpath: e.linkpath ?? '',
      mtime: new Date(0),
    });
    header.encode();
    blocks.push(header.block as Buffer, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  const file = join(work, `${name}.tar.gz`);
  writeFileSync(file, gzipSync(Buffer.concat(blocks)));
  return file;
}

const dest = (name: string) => join(work, 'versions', name);
const leftovers = () => (existsSync(join(work, 'versions')) ? readdirSync(join(work, 'versions')) : []);

describe('unpackArchive', () => {
  it('extracts a normal archive with an inner symlink', async () => {
    const file = archive('ok', [
      { path: 'bin/', type: 'Directory' },
      { path: 'bin/run.sh', body: 'echo hi' },
      { path: 'run', type: 'SymbolicLink', linkpath: 'bin/run.sh' },
    ]);
    await unpackArchive(file, dest('ok'));
    expect(readFileSync(join(dest('ok'), 'run'), 'utf8')).toBe('echo hi');
  });

  const bad: [string, RawEntry[], RegExp][] = [
    ['dotdot', [{ path: '../evil', body: 'x' }], /"\.\." in archive path/],
    ['absolute', [{ path: '/tmp/evil', body: 'x' }], /absolute path/],
    [
      'symlink-etc',
      [
        { path: 'etc', type: 'SymbolicLink', linkpath: '/etc' },
        { path: 'etc/passwd-evil', body: 'x' },
      ],
      /points outside the root/,
    ],
    [
      'through-link',
      [
        { path: 'd', type: 'SymbolicLink', linkpath: 'sub' },
        { path: 'd/x', body: 'x' },
      ],
      /written through the symlink d/,
    ],
    ['link-up', [{ path: 'a/up', type: 'SymbolicLink', linkpath: '../../outside' }], /points outside the root/],
    ['hardlink-out', [{ path: 'h', type: 'Link', linkpath: '../../etc/passwd' }], /"\.\." in archive path/],
    ['device', [{ path: 'null', type: 'CharacterDevice' }], /forbidden type CharacterDevice/],
  ];
  for (const [name, entries, message] of bad) {
    it(`refuses ${name} and writes nothing`, async () => {
      const before = leftovers();
      await expect(unpackArchive(archive(name, entries), dest(name))).rejects.toThrow(message);
      expect(existsSync(dest(name))).toBe(false);
      expect(leftovers()).toEqual(before);
      expect(existsSync(join(work, 'evil'))).toBe(false);
    });
  }

  it('bounds the entry count and the total size', async () => {
    const many = archive(
      'many',
      Array.from({ length: 5 }, (_, i) => ({ path: `f${i}`, body: 'x' })),
    );
    await expect(unpackArchive(many, dest('many'), { maxEntries: 4 })).rejects.toThrow(UnsafeArchiveError);
    const big = archive('big', [
      { path: 'a', body: 'x'.repeat(600) },
      { path: 'b', body: 'y'.repeat(600) },
    ]);
    await expect(unpackArchive(big, dest('big'), { maxTotalBytes: 1000 })).rejects.toThrow(/more than 1000 bytes/);
    expect(existsSync(dest('big'))).toBe(false);
  });
});

describe('unpackArchive and chains of symlinks', () => {
  /** `d/l1 -> ..`, `d/l2 -> l1/..`, … `d/rootfs -> l14/..`: each hop climbs one more level, ending at `/`. */
  const chain = (): RawEntry[] => [
    { path: 'd/', type: 'Directory' },
    { path: 'd/l1', type: 'SymbolicLink', linkpath: '..' },
    ...Array.from({ length: 13 }, (_, i) => ({
      path: `d/l${i + 2}`,
      type: 'SymbolicLink',
      linkpath: `l${i + 1}/..`,
    })),
    { path: 'd/rootfs', type: 'SymbolicLink', linkpath: 'l14/..' },
  ];

  it('refuses the chain l1 -> .., l2 -> l1/.., … rootfs -> l14/.. and writes nothing', async () => {
    const before = leftovers();
    await expect(unpackArchive(archive('chain', chain()), dest('chain'))).rejects.toThrow(
      /symlink "d\/l2" -> "l1\/\.\." resolves outside the archive root/,
    );
    expect(existsSync(dest('chain'))).toBe(false);
    expect(leftovers()).toEqual(before);
  });

  it('refuses the chain when the links come in reverse order', async () => {
    await expect(unpackArchive(archive('chain-rev', chain().reverse()), dest('chain-rev'))).rejects.toThrow(
      UnsafeArchiveError,
    );
    expect(existsSync(dest('chain-rev'))).toBe(false);
  });

  it('extracts chains of links that stay inside', async () => {
    const file = archive('chain-in', [
      { path: 'a/b/c/', type: 'Directory' },
      { path: 'a/b/c/l1', type: 'SymbolicLink', linkpath: '..' },
      { path: 'a/b/c/l2', type: 'SymbolicLink', linkpath: 'l1/..' },
      { path: 'a/b/c/l3', type: 'SymbolicLink', linkpath: 'l2/..' },
      { path: 'bin/', type: 'Directory' },
      { path: 'bin/run.sh', body: 'echo in' },
      { path: 'a/b/up', type: 'SymbolicLink', linkpath: '../../bin/run.sh' },
    ]);
    await unpackArchive(file, dest('chain-in'));
    expect(readFileSync(join(dest('chain-in'), 'a/b/up'), 'utf8')).toBe('echo in');
    expect(readFileSync(join(dest('chain-in'), 'a/b/c/l3/bin/run.sh'), 'utf8')).toBe('echo in');
  });
});
