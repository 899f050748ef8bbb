import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { copyFile, open, readdir, rename, rm, stat, unlink, utimes } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { NotFound } from '../errors.ts';
import { makePrivateDir, privateFileMode } from '../private-files.ts';
import {
  type BlobEntry,
  type BlobInfo,
  type BlobStore,
  type ByteRange,
  checkKey,
  type PutOptions,
  type Received,
} from './blob-store.ts';
import { createMeter } from './meter.ts';

/** Flushes a file (or a directory's entries) to disk. */
export async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Blobs as files under the data directory, a key being a relative path (`artifacts/sha256/ab/<hex>`,
 * `faults/<id>.tar.gz`). Writes go to `<area>/tmp/` first, are fsynced, then renamed into place.
 */
export class LocalBlobStore implements BlobStore {
  readonly root: string;
  readonly id: string;
  readonly local = true;

  constructor(root: string) {
    this.root = root;
    this.id = `file:${root}`;
  }

  pathOf(key: string): string {
    return join(this.root, ...checkKey(key).split('/'));
  }

  /** The temp dir of the key's first path segment (`artifacts/tmp`), which the features sweep. */
  tmpDirOf(key: string): string {
    return join(this.root, checkKey(key).split('/')[0] as string, 'tmp');
  }

  async check(): Promise<void> {}

  async put(key: string, body: NodeJS.ReadableStream, opts: PutOptions): Promise<Received> {
    const tmpDir = this.tmpDirOf(key);
    makePrivateDir(tmpDir);
    const tmpPath = join(tmpDir, `${randomUUID()}.part`);
    const meter = createMeter(opts);
    try {
      await pipeline(body, meter, createWriteStream(tmpPath, { flags: 'wx', mode: privateFileMode }));
    } catch (err) {
      await rm(tmpPath, { force: true });
      throw err;
    }
    await this.putFile(key, tmpPath, meter.received().hex);
    return meter.received();
  }

  async putFile(key: string, file: string, hex: string, opts: { keep?: boolean } = {}): Promise<void> {
    if (opts.keep) {
      const copy = join(this.tmpDirOf(key), `${randomUUID()}.part`);
      makePrivateDir(dirname(copy));
      await copyFile(file, copy);
      return this.putFile(key, copy, hex);
    }
    const target = this.pathOf(key);
    try {
      const existing = await stat(target).catch(() => undefined);
      if (existing) {
        // Same key, same content (keys are digests or fresh ids): keep it, fresh for the orphan sweeps' grace.
        await unlink(file);
        const t = new Date();
        await utimes(target, t, t);
        return;
      }
      await fsyncPath(file);
      makePrivateDir(dirname(target));
      await rename(file, target);
      await fsyncPath(dirname(target));
    } catch (err) {
      await rm(file, { force: true });
      throw err;
    }
  }

  async get(key: string, range?: ByteRange): Promise<NodeJS.ReadableStream> {
    // Opened first, so a missing file is a NotFound here rather than an error mid-response.
    const handle = await open(this.pathOf(key), 'r').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') throw new NotFound(`no blob ${key}`);
      throw err;
    });
    return handle.createReadStream(range ? { start: range.start, end: range.end } : {});
  }

  async stat(key: string): Promise<BlobInfo | undefined> {
    const s = await stat(this.pathOf(key)).catch(() => undefined);
    return s?.isFile() ? { size: s.size, modifiedMs: s.mtimeMs } : undefined;
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  async *list(prefix: string): AsyncIterable<BlobEntry> {
    const base = prefix.replace(/\/+$/, '');
    const walk = async function* (dir: string, keyDir: string): AsyncGenerator<BlobEntry> {
      const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return [] as string[];
        throw err;
      });
      for (const name of names) {
        const path = join(dir, name);
        const key = keyDir === '' ? name : `${keyDir}/${name}`;
        const s = await stat(path).catch(() => undefined);
        if (s?.isDirectory()) yield* walk(path, key);
        else if (s?.isFile()) yield { key, size: s.size, modifiedMs: s.mtimeMs };
      }
    };
    yield* walk(base === '' ? this.root : this.pathOf(base), base);
  }

  /** Local writes leave only temp files, which the features' own sweeps remove. */
  async abortStaleUploads(_prefix: string, _cutoff: number): Promise<number> {
    return 0;
  }
}
