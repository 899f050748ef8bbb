import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat, unlink, utimes } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type ArchiveEntryLink, archiveLinkProblem } from '@flotilla/protocol';
import { Parser, type ReadEntry } from 'tar';
import { DomainError, Invalid } from '../errors.ts';
import { makePrivateDir, privateFileMode } from '../private-files.ts';

export const manifestFileName = 'flotilla.json';
const maxManifestBytes = 1024 * 1024;

// Uploads streaming in this process (never swept, however long they idle) and each root's lock chain.
const receiving = new Set<string>();
const locks = new Map<string, Promise<unknown>>();

/** Content-addressed artifact blobs under `<dataDir>/artifacts`: `sha256/<ab>/<hex>`, uploads in `tmp/`. */
export class BlobStore {
  readonly root: string;
  readonly tmpDir: string;

  constructor(dataDir: string) {
    this.root = join(dataDir, 'artifacts');
    this.tmpDir = join(this.root, 'tmp');
  }

  pathOf(digest: string): string {
    const hex = hexOf(digest);
    return join(this.root, 'sha256', hex.slice(0, 2), hex);
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
    const hash = createHash('sha256');
    let size = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length;
        if (size > maxBytes)
          return done(new DomainError('payload_too_large', `the artifact is larger than ${maxBytes} bytes`));
        hash.update(chunk);
        done(null, chunk);
      },
    });
    receiving.add(tmpPath);
    try {
      await pipeline(body, meter, createWriteStream(tmpPath, { flags: 'wx', mode: privateFileMode }));
    } catch (err) {
      await rm(tmpPath, { force: true });
      throw err;
    } finally {
      receiving.delete(tmpPath);
    }
    return { tmpPath, hex: hash.digest('hex'), size };
  }

  /** Moves a received file to its content address; an identical blob already there is reused. */
  async commit(tmpPath: string, hex: string): Promise<void> {
    const target = this.pathOf(`sha256:${hex}`);
    const existing = await stat(target).catch(() => undefined);
    if (existing) {
      await unlink(tmpPath);
      // A reused blob is fresh again, so the orphan sweep's grace covers it until its row commits.
      const t = new Date();
      await utimes(target, t, t);
      return;
    }
    makePrivateDir(join(this.root, 'sha256', hex.slice(0, 2)));
    await rename(tmpPath, target);
  }

  async discard(tmpPath: string): Promise<void> {
    await rm(tmpPath, { force: true });
  }

  async remove(digest: string): Promise<void> {
    await rm(this.pathOf(digest), { force: true });
  }

  async exists(digest: string): Promise<boolean> {
    return (await stat(this.pathOf(digest)).catch(() => undefined)) !== undefined;
  }

  /** True while `tmpPath` is still being received by this process. */
  isReceiving(tmpPath: string): boolean {
    return receiving.has(tmpPath);
  }

  /** Runs `fn` alone among this root's "blob placed + row written" and "blob unreferenced → deleted" steps. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = (locks.get(this.root) ?? Promise.resolve()).then(fn, fn);
    const tail = run.catch(() => {});
    locks.set(this.root, tail);
    void tail.then(() => {
      if (locks.get(this.root) === tail) locks.delete(this.root);
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
