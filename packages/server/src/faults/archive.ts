import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Parser, type ReadEntry } from 'tar';
import { fsyncPath } from '../blobs/local-store.ts';
import { createMeter } from '../blobs/meter.ts';
import { escapesRoot } from '../catalog/artifacts.ts';
import { Invalid } from '../errors.ts';
import { privateDirMode, privateFileMode } from '../private-files.ts';

export const metaFileName = 'fault.json';
export const logTailFileName = 'log-tail.txt';
const filesDir = 'files/';
export const maxMetaBytes = 1024 * 1024;
export const maxLogTailBytes = 1024 * 1024;
export const maxEntries = 10_000;
export const logTailLines = 500;
/** Deepest nesting of arrays and objects `fault.json` may have: deeper documents break recursive readers. */
export const maxMetaDepth = 32;
/** Declared sizes of all entries together: a small gzip can claim (and hold) far more than it weighs. */
export const maxUnpackedBytes = 16 * 1024 ** 3;

/**
 * Streams `body` to a fresh temp file in `tmpDir` while hashing it and fsyncs it. On any failure
 * (too large, the client going away) the temp file is removed before the error is rethrown.
 */
export async function receiveUpload(
  tmpDir: string,
  body: NodeJS.ReadableStream,
  maxBytes: number,
): Promise<{ tmpPath: string; hex: string; size: number }> {
  await mkdir(tmpDir, { recursive: true, mode: privateDirMode });
  const tmpPath = join(tmpDir, `${randomUUID()}.part`);
  const meter = createMeter({ maxBytes, what: 'the fault archive' });
  try {
    await pipeline(body, meter, createWriteStream(tmpPath, { flags: 'wx', mode: privateFileMode }));
    await fsyncPath(tmpPath);
  } catch (err) {
    await rm(tmpPath, { force: true });
    throw err;
  }
  return { tmpPath, ...meter.received() };
}

export interface FaultArchiveContent {
  /** The parsed `fault.json`, not yet validated. */
  meta: unknown;
  /** The last lines of `log-tail.txt` (empty when the archive has none). */
  logTail: string[];
  /** Regular files under `files/`, relative to it. */
  files: string[];
}

/** Why an entry is refused: it escapes the root, is a link or device, or is not a plain file or directory. */
function entryProblem(entry: ReadEntry): string | undefined {
  if (escapesRoot(entry.path)) return `entry "${entry.path}" escapes the archive root`;
  if (entry.type === 'SymbolicLink' || entry.type === 'Link') {
    return `entry "${entry.path}" is a link; fault archives hold plain files only`;
  }
  if (entry.type !== 'File' && entry.type !== 'OldFile' && entry.type !== 'Directory') {
    return `entry "${entry.path}" is a ${entry.type}; fault archives hold plain files only`;
  }
  return undefined;
}

/**
 * Reads `fault.json` and `log-tail.txt` out of a fault .tar.gz without unpacking it, checking every
 * entry on the way. Throws Invalid naming the first problem.
 */
export async function readFaultArchive(file: string): Promise<FaultArchiveContent> {
  const texts = new Map<string, Buffer>();
  const files: string[] = [];
  let problem: string | undefined;
  let entries = 0;
  let unpacked = 0;
  const parser = new Parser({
    strict: true,
    onReadEntry: (entry: ReadEntry) => {
      entries++;
      unpacked += entry.size ?? 0;
      problem ??=
        entryProblem(entry) ??
        (entries > maxEntries ? `the archive holds more than ${maxEntries} entries` : undefined) ??
        (unpacked > maxUnpackedBytes ? `the archive unpacks to more than ${maxUnpackedBytes} bytes` : undefined);
      if (problem) {
        entry.resume();
        // Stop reading at once: the rest of a refused archive is not worth decompressing.
        parser.abort(new Error(problem));
        return;
      }
      const name = posix.normalize(entry.path).replace(/^\.\//, '');
      const isFile = entry.type === 'File' || entry.type === 'OldFile';
      if (isFile && name.startsWith(filesDir) && name.length > filesDir.length) files.push(name.slice(filesDir.length));
      const limit = name === metaFileName ? maxMetaBytes : name === logTailFileName ? maxLogTailBytes : undefined;
      if (!isFile || limit === undefined) {
        entry.resume();
        return;
      }
      if (texts.has(name)) problem ??= `the archive holds ${name} more than once`;
      else if ((entry.size ?? 0) > limit) problem ??= `${name} is ${entry.size} bytes; the limit is ${limit}`;
      if (problem) {
        entry.resume();
        return;
      }
      const chunks: Buffer[] = [];
      entry.on('data', (c: Buffer) => chunks.push(c));
      entry.on('end', () => texts.set(name, Buffer.concat(chunks)));
    },
  });
  try {
    await pipeline(createReadStream(file), parser);
  } catch (err) {
    if (problem) throw new Invalid(`the fault archive is refused: ${problem}`);
    throw new Invalid(`the fault archive is not a readable .tar.gz: ${(err as Error).message}`);
  }
  if (problem) throw new Invalid(`the fault archive is refused: ${problem}`);
  const metaBytes = texts.get(metaFileName);
  if (!metaBytes) throw new Invalid(`the fault archive has no ${metaFileName} at its root`);
  const metaText = metaBytes.toString('utf8');
  // Checked on the raw text, before any recursive parse or validation walks it.
  if (jsonDepth(metaText) > maxMetaDepth) {
    throw new Invalid(`${metaFileName}: nested deeper than ${maxMetaDepth} levels`);
  }
  let meta: unknown;
  try {
    meta = JSON.parse(metaText);
  } catch (err) {
    throw new Invalid(`${metaFileName}: not valid JSON: ${(err as Error).message}`);
  }
  return { meta, logTail: lastLines(texts.get(logTailFileName)?.toString('utf8') ?? '', logTailLines), files };
}

/** The deepest nesting of `[` and `{` in JSON text, outside strings, in one pass (invalid JSON is left to the parser). */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) max = Math.max(max, ++depth);
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

/** The last `n` lines of `text`, without line ends; a final newline does not make an empty line. */
export function lastLines(text: string, n: number): string[] {
  if (text === '') return [];
  const lines = text.split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  return lines.slice(-n);
}
