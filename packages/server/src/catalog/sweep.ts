import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import type { Tables } from '../db/tables.ts';
import { type ArtifactStore, artifactKey } from './artifacts.ts';
import { unreferencedDigests } from './store.ts';

/**
 * Leftovers younger than this are kept: a temp file is only swept once nothing wrote it for an hour
 * (and never while this process still receives it), a blob only once its publish had an hour to commit.
 */
export const artifactSweepGraceMs = 3_600_000;
const batchSize = 500;
const blobKeyRe = /^artifacts\/sha256\/([0-9a-f]{2})\/([0-9a-f]{64})$/;

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

/**
 * Deletes temp files (a crashed publish's `*.part`) not written since `cutoff`, and multipart uploads
 * to an object store that a crash left open since then; returns how many.
 */
export async function sweepArtifactTmp(blobs: ArtifactStore, cutoff: number): Promise<number> {
  let removed = 0;
  for (const name of await entries(blobs.tmpDir)) {
    const path = join(blobs.tmpDir, name);
    if (blobs.isReceiving(path) || !(await modifiedBefore(path, cutoff))) continue;
    await rm(path, { force: true });
    removed++;
  }
  return removed + (await blobs.store.abortStaleUploads('artifacts/', cutoff));
}

/** Deletes blobs older than `cutoff` that no version row references (a crash mid-trim); returns how many. */
export async function sweepOrphanBlobs(db: Kysely<Tables>, blobs: ArtifactStore, cutoff: number): Promise<number> {
  const old: string[] = [];
  for await (const entry of blobs.store.list('artifacts/sha256/')) {
    const m = blobKeyRe.exec(entry.key);
    if (!m || !(m[2] as string).startsWith(m[1] as string)) continue;
    if (entry.modifiedMs < cutoff) old.push(`sha256:${m[2]}`);
  }
  let removed = 0;
  for (let i = 0; i < old.length; i += batchSize) {
    // Under the publish lock, and re-checked: a publish reusing the blob makes it fresh first.
    removed += await blobs.exclusive(async () => {
      let n = 0;
      for (const digest of await unreferencedDigests(db, old.slice(i, i + batchSize))) {
        const info = await blobs.store.stat(artifactKey(digest));
        if (!info || info.modifiedMs >= cutoff) continue;
        await blobs.remove(digest);
        n++;
      }
      return n;
    });
  }
  return removed;
}
