// Fault reports: when a service exits unexpectedly, its log tail, state and crash files (the manifest's
// `faultFilesMatch`, default `core*`) are packed into `<dir>/faults/*.tar.gz`, kept, and uploaded.
import { randomBytes } from 'node:crypto';
import {
  copyFileSync,
  globSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { FaultReportMeta } from '@flotilla/protocol';
import type { AgentApi } from './api.ts';
import { ApiError, isTransient } from './api.ts';

const maxCrashBytes = 200 * 1024 * 1024;
const keptReports = 20;
/** When the server last answered 429 with `Retry-After`: no upload before the epoch ms in this file. */
const notBeforeFile = '.not-before';
/** The longest `Retry-After` honoured, so a wrong answer cannot silence reports for long. */
const maxRetryAfterMs = 6 * 3_600_000;

export interface FaultInput {
  instanceId: string;
  service: string;
  version: string | null;
  reason: string;
  exitCode: number | null;
  signal: string | null;
  state: Record<string, unknown>;
  logTail: string[];
  /** Where the crash files are looked for (the version's working directory). */
  searchDir: string | null;
  patterns: string[];
}

/** Moves matching crash files out of the service directory (so they are reported once) and packs the report. */
export async function packFaultReport(faultsDir: string, input: FaultInput, now = new Date()): Promise<string> {
  const id = `${now.toISOString().replace(/[:.]/g, '-')}-${input.service}-${randomBytes(3).toString('hex')}`;
  const staging = join(faultsDir, `.staging-${id}`);
  mkdirSync(join(staging, 'files'), { recursive: true });
  const files: string[] = [];
  const skipped: string[] = [];
  if (input.searchDir) {
    let total = 0;
    for (const name of matchCrashFiles(input.searchDir, input.patterns)) {
      const from = join(input.searchDir, name);
      const size = statSync(from).size;
      if (total + size > maxCrashBytes) {
        skipped.push(name);
        continue;
      }
      total += size;
      const to = join(staging, 'files', name);
      mkdirSync(dirname(to), { recursive: true });
      moveFile(from, to);
      files.push(name);
    }
  }
  const meta: FaultReportMeta = {
    instanceId: input.instanceId,
    service: input.service,
    version: input.version,
    time: now.toISOString(),
    reason: input.reason,
    exitCode: input.exitCode,
    signal: input.signal,
    state: skipped.length > 0 ? { ...input.state, skippedFiles: skipped } : input.state,
    files,
  };
  writeFileSync(join(staging, 'fault.json'), JSON.stringify(meta, null, 2));
  writeFileSync(join(staging, 'log-tail.txt'), input.logTail.slice(-500).join('\n'));
  const archive = join(faultsDir, `${id}.tar.gz`);
  const partial = `${archive}.part`;
  // Loaded on first use: an agent with no fault to report never loads tar (~10 MB in a bare process).
  const { c: createTar } = await import('tar');
  await createTar({ gzip: true, file: partial, cwd: staging, portable: true }, ['fault.json', 'log-tail.txt', 'files']);
  renameSync(partial, archive);
  rmSync(staging, { recursive: true, force: true });
  pruneReports(faultsDir);
  return archive;
}

/** Regular files under `dir` matching the globs, never outside it. */
export function matchCrashFiles(dir: string, patterns: string[]): string[] {
  const root = resolve(dir);
  const found = new Set<string>();
  for (const pattern of patterns.length > 0 ? patterns : ['core', 'core.*']) {
    let matches: string[] = [];
    try {
      matches = globSync(pattern, { cwd: root });
    } catch {
      continue;
    }
    for (const match of matches) {
      const full = resolve(root, match);
      if (!full.startsWith(root + sep)) continue;
      try {
        if (statSync(full).isFile()) found.add(relative(root, full));
      } catch {}
    }
  }
  return [...found].sort();
}

function moveFile(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    copyFileSync(from, to);
    unlinkSync(from);
  }
}

function reportsIn(faultsDir: string): string[] {
  try {
    return readdirSync(faultsDir)
      .filter((n) => n.endsWith('.tar.gz'))
      .sort();
  } catch {
    return [];
  }
}

/** Keeps the newest reports on disk (names start with the time, so they sort by age). */
function pruneReports(faultsDir: string): void {
  const all = reportsIn(faultsDir);
  for (const name of all.slice(0, Math.max(0, all.length - keptReports))) {
    rmSync(join(faultsDir, name), { force: true });
    rmSync(join(faultsDir, `${name}.sent`), { force: true });
  }
}

/** Uploads every kept report not yet sent; a `.sent` marker records success. Returns how many were sent. */
export async function uploadPendingFaults(
  faultsDir: string,
  api: AgentApi,
  onError?: (err: unknown, archive: string) => void,
  now = Date.now,
): Promise<number> {
  let sent = 0;
  // The server asked to wait (its per-instance quota); reports stay on disk until then.
  if (now() < notBefore(faultsDir)) return 0;
  const names = new Set(readdirSafe(faultsDir));
  for (const name of reportsIn(faultsDir)) {
    if (names.has(`${name}.sent`)) continue;
    const archive = join(faultsDir, name);
    try {
      const id = await api.uploadFault(archive);
      writeFileSync(`${archive}.sent`, `${id}\n`);
      sent++;
    } catch (err) {
      onError?.(err, archive);
      if (err instanceof ApiError && err.retryAfter !== undefined && err.retryAfter > 0) {
        const until = now() + Math.min(maxRetryAfterMs, err.retryAfter * 1000);
        writeFileSync(join(faultsDir, notBeforeFile), `${until}\n`);
      }
      // A refused report is marked so it is not resent forever; an outage leaves it for the next round.
      if (!isTransient(err)) writeFileSync(`${archive}.sent`, `refused: ${(err as Error).message}\n`);
      else break;
    }
  }
  return sent;
}

function notBefore(faultsDir: string): number {
  try {
    return Number(readFileSync(join(faultsDir, notBeforeFile), 'utf8')) || 0;
  } catch {
    return 0;
  }
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
