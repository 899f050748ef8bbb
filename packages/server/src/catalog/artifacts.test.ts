import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import * as tar from 'tar';
import { describe, expect, it } from 'vitest';
import { makeTempDir } from '../../test/support/temp-dir.ts';
import { makeArtifactDir } from './archive.test.helper.ts';
import { readArchiveManifest } from './artifacts.ts';

const manifest = { run: { command: './bin/app' } };

/** A .tar.gz of an artifact directory holding the symlinks `links` (path → target) besides bin/app. */
async function artifactWithLinks(links: [string, string][]): Promise<string> {
  const dir = makeArtifactDir(manifest, { 'bin/app': '#!/bin/sh\n' });
  for (const [path, target] of links) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    symlinkSync(target, join(dir, path));
  }
  const out = join(makeTempDir('flotilla-tgz-'), 'artifact.tar.gz');
  await tar.c({ gzip: true, file: out, cwd: dir, portable: true }, ['.']);
  return out;
}

describe('the publish check of links', () => {
  it('refuses the chain l1 -> .., l2 -> l1/.., … rootfs -> l14/.. that ends at /', async () => {
    const chain: [string, string][] = [['d/l1', '..']];
    for (let k = 2; k <= 14; k++) chain.push([`d/l${k}`, `l${k - 1}/..`]);
    chain.push(['d/rootfs', 'l14/..']);
    await expect(readArchiveManifest(await artifactWithLinks(chain))).rejects.toThrow(
      /the artifact is refused: symlink "d\/l\d+" -> "l\d+\/\.\." resolves outside the archive root/,
    );
  });

  it('accepts chains of links that stay inside', async () => {
    const file = await artifactWithLinks([
      ['a/b/c/l1', '..'],
      ['a/b/c/l2', 'l1/..'],
      ['a/b/c/l3', 'l2/..'],
      ['a/b/up', '../../bin/app'],
      ['run', 'bin/app'],
    ]);
    expect(await readArchiveManifest(file)).toEqual(manifest);
  });
});
