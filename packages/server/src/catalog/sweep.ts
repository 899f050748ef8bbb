import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import type { Tables } from '../db/tables.ts';
import type { BlobStore } from './artifacts.ts';
import { unreferencedDigests } from './store.ts';

/**
 * Leftovers younger than this are kept: a temp file is only swept once nothing wrote it for an hour
 * (and never while this process still receives it), a blob only once its publish had an hour to commit.
 */
export const artifactSweepGraceMs = 3_600_000;
const batchSize = 500;

async function entries(dir: string): Promise<string[]> {
  return readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
}

async function modifiedBefore(path: string, cutoff: number): Promise<boolean> {
  const s = await stat(path).catch(() => undefined);
  return s?.isFile() === true && s.mtimeMs < cutoff;
}

/** Deletes temp files (a crashed publish's `*.part`) not written since `cutoff`; returns how many. */
export async function sweepArtifactTmp(blobs: BlobStore, cutoff: number): Promise<number> {
  let removed = 0;
  for (const name of await entries(blobs.tmpDir)) {
    const path = join(blobs.tmpDir, name);
    if (blobs.isReceiving(path) || !(await modifiedBefore(path, cutoff))) continue;
    await rm(path, { force: true });
    removed++;
  }
  return removed;
}

/** Deletes blobs older than `cutoff` that no version row references (a crash mid-trim); returns how many. */
export async function sweepOrphanBlobs(db: Kysely<Tables>, blobs: BlobStore, cutoff: number): Promise<number> {
  const old: string[] = [];
  const shards = join(blobs.root, 'sha256');
  for (const shard of await entries(shards)) {
    if (!/^[0-9a-f]{2}$/.test(shard)) continue;
    for (const hex of await entries(join(shards, shard))) {
      if (!/^[0-9a-f]{64}$/.test(hex) || !hex.startsWith(shard)) continue;
      if (await modifiedBefore(join(shards, shard, hex), cutoff)) old.push(`sha256:${hex}`);
    }
  }
  let removed = 0;
  for (let i = 0; i < old.length; i += batchSize) {
    // Under the publish lock, and re-checked: a publish reusing the blob refreshes its mtime first.
    removed += await blobs.exclusive(async () => {
      let n = 0;
      for (const digest of await unreferencedDigests(db, old.slice(i, i + batchSize))) {
        if (!(await modifiedBefore(blobs.pathOf(digest), cutoff))) continue;
        await blobs.remove(digest);
        n++;
      }
      return n;
    });
  }
  return removed;
}
