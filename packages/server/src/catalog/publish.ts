import type { InstallManifest } from '@flotilla/protocol';
import type { Kysely } from 'kysely';
import type { Tables } from '../db/tables.ts';
import { DomainError, Invalid } from '../errors.ts';
import { type ArtifactStore, readArchiveManifest } from './artifacts.ts';
import { kindOf, sortVersionsNewestFirst } from './client-version.ts';
import { validateManifest } from './manifest.ts';
import type { PinCheck } from './pins.ts';
import * as store from './store.ts';

export const maxArtifactBytes = 10 * 1024 ** 3;

/**
 * Receives an upload into a temp file and checks it: digest, archive layout, manifest. On any
 * refusal the temp file is gone before the error propagates.
 */
export async function receiveArtifact(
  blobs: ArtifactStore,
  body: NodeJS.ReadableStream,
  sha256: string | undefined,
): Promise<{ tmpPath: string; hex: string; size: number; manifest: InstallManifest }> {
  let received: { tmpPath: string; hex: string; size: number };
  try {
    received = await blobs.receive(body, maxArtifactBytes);
  } catch (err) {
    if (err instanceof DomainError) throw err;
    throw new Invalid(`the upload did not complete: ${(err as Error).message}`);
  }
  const { tmpPath, hex, size } = received;
  try {
    if (sha256 && sha256.toLowerCase() !== hex) {
      throw new Invalid(`digest mismatch: the client sent sha256 ${sha256.toLowerCase()}, the server received ${hex}`);
    }
    if (size === 0) throw new Invalid('the artifact is empty');
    const manifest = validateManifest(await readArchiveManifest(tmpPath));
    return { tmpPath, hex, size, manifest };
  } catch (err) {
    await blobs.discard(tmpPath);
    throw err;
  }
}

/**
 * Deletes the oldest versions of `keep`'s kind beyond `limit`, skipping pinned ones and `keep`; returns
 * what went. Each kind has its own history, so client builds never push developer versions out.
 */
export async function trimHistory(
  tx: Kysely<Tables>,
  service: string,
  keep: string,
  limit: number,
  isPinned: PinCheck,
): Promise<store.VersionSummaryRow[]> {
  const all = sortVersionsNewestFirst(
    (await store.listVersionSummaries(tx, service, kindOf(keep))).map((r) => ({
      ...r,
      createdAt: r.created_at,
      developerVersion: r.developer_version,
    })),
  );
  const removed: store.VersionSummaryRow[] = [];
  let kept = 0;
  for (const row of all) {
    if (kept < limit || row.version === keep || (await isPinned(tx, service, row.version))) kept++;
    else removed.push(row);
  }
  await store.deleteVersions(
    tx,
    service,
    removed.map((r) => r.version),
  );
  return removed;
}
