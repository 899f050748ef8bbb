// Bounds for repositories someone else names (a consumer's settings, built by its provider): how
// much a fetch may bring onto the provider's disk, and how much a checkout of it may write.
import { type Dirent, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface RepoLimits {
  /** What the clone's `.git` may hold; a fetch that grows past it is stopped. */
  repoBytes: number;
  /** The files of the tree that is checked out (the commit's, or the subdirectory's), summed. */
  treeBytes: number;
  /** Entries of that tree. */
  files: number;
}

const MiB = 1024 * 1024;

/** Settings are configuration files: generous for them, small beside the provider's disk. */
export const untrustedLimits: RepoLimits = { repoBytes: 256 * MiB, treeBytes: 256 * MiB, files: 20_000 };

export function megabytes(bytes: number): string {
  return `${Math.round((bytes / MiB) * 10) / 10} MiB`;
}

/** Bytes of the files under `dir` (0 while it does not exist); symbolic links are not followed. */
export function directoryBytes(dir: string): number {
  let total = 0;
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += directoryBytes(path);
    else if (entry.isFile()) {
      try {
        total += statSync(path).size;
      } catch {
        // Renamed or removed by git meanwhile (temporary packs are).
      }
    }
  }
  return total;
}

/** Calls `onOver` once `dir` holds more than `limit` bytes, looking every `everyMs`; returns the stop. */
export function watchSize(dir: string, limit: number, onOver: () => void, everyMs = 250): () => void {
  const timer = setInterval(() => {
    if (directoryBytes(dir) > limit) {
      clearInterval(timer);
      onOver();
    }
  }, everyMs);
  return () => clearInterval(timer);
}

/**
 * Sums the entries of `git ls-tree -r -l -z` output (`<mode> <type> <object> <size>\t<path>\0`) as it
 * streams, so a listing of any length is counted whole without being kept.
 */
export function treeCounter() {
  let bytes = 0;
  let files = 0;
  let rest = Buffer.alloc(0);
  const entry = (line: Buffer) => {
    files++;
    const head = line.subarray(0, Math.max(0, line.indexOf(9))).toString('latin1');
    const size = Number(head.trim().split(/\s+/)[3]);
    if (Number.isFinite(size)) bytes += size;
  };
  return {
    push(chunk: Buffer): void {
      let data = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk;
      for (let end = data.indexOf(0); end !== -1; end = data.indexOf(0)) {
        entry(data.subarray(0, end));
        data = data.subarray(end + 1);
      }
      rest = Buffer.from(data);
    },
    result: () => ({ bytes, files }),
  };
}
