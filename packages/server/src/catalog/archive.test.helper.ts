import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as tar from 'tar';
import { makeTempDir } from '../../test/support/temp-dir.ts';

/**
 * Writes `files` (plus `flotilla.json` when a manifest is given) to a fresh directory, removed when
 * the test file ends; it sits in a folder of its own, so entries like `../x` stay inside that.
 */
export function makeArtifactDir(manifest: unknown, files: Record<string, string> = {}): string {
  const dir = join(makeTempDir('flotilla-art-'), 'artifact');
  mkdirSync(dir);
  const all = manifest === undefined ? files : { 'flotilla.json': JSON.stringify(manifest), ...files };
  for (const [name, data] of Object.entries(all)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), data);
  }
  return dir;
}

/** A .tar.gz of a directory like `makeArtifactDir` builds; `extra` entries are created and added verbatim (e.g. `../x`). */
export async function makeArtifact(
  manifest: unknown,
  files: Record<string, string> = {},
  extra: string[] = [],
): Promise<string> {
  const dir = makeArtifactDir(manifest, files);
  for (const name of extra) writeFileSync(join(dir, name), 'outside');
  const out = join(makeTempDir('flotilla-tgz-'), 'artifact.tar.gz');
  await tar.c({ gzip: true, file: out, cwd: dir, portable: true, preservePaths: extra.length > 0 }, ['.', ...extra]);
  return out;
}
