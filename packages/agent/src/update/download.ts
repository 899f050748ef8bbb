// Resumable artifact download: bytes go to `<file>.part`, a restart resumes with Range, and the file
// only gets its final name once its size and SHA-256 match the signed manifest.
import { createHash } from 'node:crypto';
import {
  closeSync,
  createReadStream,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { type HttpResponse, httpRequest } from '../runtime/http-request.ts';
import { checkArtifact, VerificationError, type VerifiedManifest } from './verify.ts';

/** A stalled transfer fails after this long without a byte; the .part file keeps what came. */
const idleTimeoutMs = 60_000;

/** The server could not be reached or answered 5xx/429: the version is not at fault, try again later. */
export class DownloadUnavailable extends Error {
  override name = 'DownloadUnavailable';
}

export interface ServerAccess {
  /** e.g. `http://127.0.0.1:8080` */
  url: string;
  token: string;
}

export async function sha256File(file: string): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { size, sha256: hash.digest('hex') };
}

export function artifactUrl(server: ServerAccess, service: string, version: string): string {
  return `${server.url.replace(/\/+$/, '')}/api/v1/services/${encodeURIComponent(service)}/versions/${encodeURIComponent(version)}/artifact`;
}

/**
 * Downloads the artifact of `verified` to `file` (resuming `file.part`), then checks size and digest.
 * An existing `file` with the right digest is reused. Throws VerificationError on a mismatch.
 */
export async function downloadArtifact(options: {
  server: ServerAccess;
  verified: VerifiedManifest;
  file: string;
  signal?: AbortSignal;
}): Promise<void> {
  const { server, verified, file } = options;
  mkdirSync(dirname(file), { recursive: true });
  if (existsSync(file)) {
    try {
      checkArtifact(verified, await sha256File(file));
      return;
    } catch {
      rmSync(file, { force: true });
    }
  }
  const part = `${file}.part`;
  let have = existsSync(part) ? statSync(part).size : 0;
  if (have > verified.size) {
    rmSync(part, { force: true });
    have = 0;
  }
  const headers: Record<string, string> = { authorization: `Bearer ${server.token}` };
  if (have > 0) headers.range = `bytes=${have}-`;
  let res: HttpResponse;
  try {
    res = await httpRequest(artifactUrl(server, verified.service, verified.version), {
      headers,
      idleTimeoutMs,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (err) {
    throw new DownloadUnavailable(`artifact download failed: ${(err as Error).message}`);
  }
  let append: boolean;
  if (res.status === 206 && have > 0) append = true;
  else if (res.status === 200) append = false;
  else if (res.status === 416 && have === verified.size) append = true;
  else {
    res.discard();
    const message = `artifact download failed: HTTP ${res.status}`;
    throw res.status >= 500 || res.status === 429 || res.status === 408
      ? new DownloadUnavailable(message)
      : new Error(message);
  }
  const fd = openSync(part, append ? 'a' : 'w');
  let written = append ? have : 0;
  try {
    if (res.status === 416) res.discard();
    else {
      try {
        for await (const chunk of res.body()) {
          written += chunk.length;
          if (written > verified.size)
            throw new VerificationError(`artifact is larger than the signed size ${verified.size}`);
          writeSync(fd, chunk);
        }
      } catch (err) {
        if (err instanceof VerificationError) throw err;
        // The bytes so far stay in the .part file: the next attempt resumes from them.
        fsyncSync(fd);
        throw new DownloadUnavailable(`artifact download interrupted: ${(err as Error).message}`);
      }
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    checkArtifact(verified, await sha256File(part));
  } catch (err) {
    rmSync(part, { force: true });
    // Resumed bytes from an earlier attempt may be what is wrong: one clean attempt decides.
    if (have > 0) return downloadArtifact(options);
    throw err;
  }
  renameSync(part, file);
}
