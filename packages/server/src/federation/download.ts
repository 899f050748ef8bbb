import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { makePrivateDir, privateFileMode } from '../private-files.ts';

export class DigestMismatch extends Error {}

/**
 * Downloads an artifact to `<dir>/<hex>.part`, resuming a partial file with Range, and checks its
 * size and SHA-256. A file that fails the check is removed; a broken transfer is kept to resume.
 */
export async function downloadVerified(opts: {
  url: string;
  headers: Record<string, string>;
  dir: string;
  digest: string;
  size: number;
  signal?: AbortSignal;
}): Promise<string> {
  const hex = /^sha256:([0-9a-f]{64})$/.exec(opts.digest)?.[1];
  if (!hex) throw new DigestMismatch(`not a sha256 digest: ${opts.digest}`);
  makePrivateDir(opts.dir);
  const file = join(opts.dir, `${hex}.part`);
  let have = (await stat(file).catch(() => undefined))?.size ?? 0;
  if (have > opts.size) {
    await rm(file, { force: true });
    have = 0;
  }
  if (have < opts.size) {
    const headers = {
      ...opts.headers,
      ...(have > 0 ? { range: `bytes=${have}-`, 'if-range': `"${opts.digest}"` } : {}),
    };
    const res = await fetch(opts.url, { headers, signal: opts.signal });
    if (res.status !== 200 && res.status !== 206) {
      const text = await res.text().catch(() => '');
      throw Object.assign(new Error(`artifact download: HTTP ${res.status} ${text.slice(0, 300)}`), {
        status: res.status,
      });
    }
    if (!res.body) throw new Error('artifact download: no body');
    // A 200 is the whole file again (the provider ignored the range): start over.
    const flags = res.status === 206 ? 'a' : 'w';
    await pipeline(
      Readable.fromWeb(res.body as import('node:stream/web').ReadableStream),
      createWriteStream(file, { flags, mode: privateFileMode }),
    );
  }
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  const got = hash.digest('hex');
  if (size !== opts.size || got !== hex) {
    await rm(file, { force: true });
    throw new DigestMismatch(
      `the artifact is ${size} bytes with sha256 ${got}; the signed manifest says ${opts.size} bytes, ${hex}`,
    );
  }
  return file;
}
