import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { type ArchiveEntryLink, archiveLinkProblem } from '@flotilla/protocol';
import { Parser, type ReadEntry } from 'tar';
import type { BlobStore, ByteRange } from '../blobs/blob-store.ts';
import { fsyncPath, LocalBlobStore } from '../blobs/local-store.ts';
import { createMeter } from '../blobs/meter.ts';
import { Invalid } from '../errors.ts';
import { makePrivateDir, privateFileMode } from '../private-files.ts';

export const manifestFileName = 'flotilla.json';
const maxManifestBytes = 1024 * 1024;

// Uploads streaming in this process (never swept, however long they idle) and each store's lock chain.
const receiving = new Set<string>();
const locks = new Map<string, Promise<unknown>>();

/** The key of an artifact blob: `artifacts/sha256/<ab>/<hex>`, as laid out under the data directory. */
export function artifactKey(digest: string): string {
  const hex = hexOf(digest);
  return `artifacts/sha256/${hex.slice(0, 2)}/${hex}`;
}

/**
 * Content-addressed artifact blobs in a blob store. Uploads are staged in `<dataDir>/artifacts/tmp`
 * (hashed, then checked as archives) whatever the store, and only checked ones reach it.
 */
export class ArtifactStore {
  readonly tmpDir: string;
  readonly store: BlobStore;

  constructor(dataDir: string, store: BlobStore = new LocalBlobStore(dataDir)) {
    this.tmpDir = join(dataDir, 'artifacts', 'tmp');
    this.store = store;
  }

  /**
   * Streams `body` to a temp file while hashing it. On any failure (including the client going away)
   * the temp file is removed before the error is rethrown.
   */
  async receive(
    body: NodeJS.ReadableStream,
    maxBytes: number,
  ): Promise<{ tmpPath: string; hex: string; size: number }> {
    makePrivateDir(this.tmpDir);
    const tmpPath = join(this.tmpDir, `${randomUUID()}.part`);
    const meter = createMeter({ maxBytes, what: 'the artifact' });
    receiving.add(tmpPath);
    try {
      await pipeline(body, meter, createWriteStream(tmpPath, { flags: 'wx', mode: privateFileMode }));
    } catch (err) {
      await rm(tmpPath, { force: true });
      throw err;
    } finally {
      receiving.delete(tmpPath);
    }
    return { tmpPath, ...meter.received() };
  }

  /**
   * Before the publish lock, the slow part: an object store gets its copy (the temp file stays for
   * `commit`); on the data directory the file is flushed to disk, so the rename under the lock is quick.
   */
  async upload(tmpPath: string, hex: string): Promise<void> {
    if (this.store.local) await fsyncPath(tmpPath);
    else await this.store.putFile(artifactKey(`sha256:${hex}`), tmpPath, hex, { keep: true });
  }

  /**
   * Under the publish lock: moves a received file to its content address (an identical blob already
   * there is reused and made fresh for the orphan sweep's grace), or makes sure the uploaded copy was
   * not collected meanwhile. The temp file is gone afterwards, even on failure.
   */
  async commit(tmpPath: string, hex: string): Promise<void> {
    const key = artifactKey(`sha256:${hex}`);
    if (this.store.local) return this.store.putFile(key, tmpPath, hex);
    try {
      if (!(await this.store.stat(key))) await this.store.putFile(key, tmpPath, hex, { keep: true });
    } finally {
      await rm(tmpPath, { force: true });
    }
  }

  async discard(tmpPath: string): Promise<void> {
    await rm(tmpPath, { force: true });
  }

  async remove(digest: string): Promise<void> {
    await this.store.delete(artifactKey(digest));
  }

  async exists(digest: string): Promise<boolean> {
    return (await this.store.stat(artifactKey(digest))) !== undefined;
  }

  /** The blob's bytes, or the inclusive range of them. */
  open(digest: string, range?: ByteRange): Promise<NodeJS.ReadableStream> {
    return this.store.get(artifactKey(digest), range);
  }

  /** True while `tmpPath` is still being received by this process. */
  isReceiving(tmpPath: string): boolean {
    return receiving.has(tmpPath);
  }

  /** Runs `fn` alone among this store's "blob placed + row written" and "blob unreferenced → deleted" steps. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const id = this.store.id;
    const run = (locks.get(id) ?? Promise.resolve()).then(fn, fn);
    const tail = run.catch(() => {});
    locks.set(id, tail);
    void tail.then(() => {
      if (locks.get(id) === tail) locks.delete(id);
    });
    return run;
  }
}

export function hexOf(digest: string): string {
  const m = /^sha256:([0-9a-f]{64})$/.exec(digest);
  if (!m) throw new Invalid(`not a sha256 digest: ${digest}`);
  return m[1] as string;
}

/** True when an archive path would land outside the extraction root. */
export function escapesRoot(path: string): boolean {
  if (path.startsWith('/') || /^[A-Za-z]:/.test(path) || path.includes('\\')) return true;
  const normal = posix.normalize(path);
  return normal === '..' || normal.startsWith('../');
}

function entryProblem(entry: ReadEntry): string | undefined {
  if (escapesRoot(entry.path)) return `entry "${entry.path}" escapes the archive root`;
  if ((entry.type === 'SymbolicLink' || entry.type === 'Link') && entry.linkpath) {
    const target =
      entry.type === 'SymbolicLink' && !entry.linkpath.startsWith('/')
        ? posix.join(posix.dirname(entry.path), entry.linkpath)
        : entry.linkpath;
    if (escapesRoot(target)) return `link "${entry.path}" -> "${entry.linkpath}" points outside the archive root`;
  }
  return undefined;
}

/**
 * Reads `flotilla.json` from the root of a .tar.gz (or .tar) and checks every entry: paths and link
 * targets, resolved through the archive's other links, must stay inside the root. Returns the parsed
 * JSON; throws Invalid naming the fault.
 */
export async function readArchiveManifest(file: string): Promise<unknown> {
  let manifest: Buffer | undefined;
  let problem: string | undefined;
  let found = 0;
  const entries: ArchiveEntryLink[] = [];
  const parser = new Parser({
    strict: true,
    onReadEntry: (entry: ReadEntry) => {
      problem ??= entryProblem(entry);
      entries.push({ path: entry.path, type: entry.type, linkpath: entry.linkpath });
      const name = posix.normalize(entry.path);
      if (name !== manifestFileName || entry.type !== 'File') {
        entry.resume();
        return;
      }
      found++;
      if (entry.size > maxManifestBytes) {
        problem ??= `${manifestFileName} is ${entry.size} bytes; the limit is ${maxManifestBytes}`;
        entry.resume();
        return;
      }
      const chunks: Buffer[] = [];
      entry.on('data', (c: Buffer) => chunks.push(c));
      entry.on('end', () => {
        manifest = Buffer.concat(chunks);
      });
    },
  });
  try {
    await pipeline(createReadStream(file), parser);
  } catch (err) {
    throw new Invalid(`the artifact is not a readable .tar.gz: ${(err as Error).message}`);
  }
  // Links are judged on the whole tree: a link may climb through another that comes later.
  problem ??= archiveLinkProblem(entries);
  if (problem) throw new Invalid(`the artifact is refused: ${problem}`);
  if (found > 1) throw new Invalid(`the artifact holds ${manifestFileName} more than once`);
  if (!manifest) throw new Invalid(`the artifact has no ${manifestFileName} at its root`);
  try {
    return JSON.parse(manifest.toString('utf8'));
  } catch (err) {
    throw new Invalid(`${manifestFileName}: not valid JSON: ${(err as Error).message}`);
  }
}
