// Small on-disk state of a service: the `current` link, verified manifests, the failed version.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { InstallManifest } from '@flotilla/protocol';
import { fsyncDir } from '../journal/journal.ts';
import type { ServiceLayout } from '../layout.ts';

/** Writes `text` to `file` atomically and durably (temp file, fsync, rename, fsync of the directory). */
export function writeFileAtomic(file: string, text: string): void {
  const dir = join(file, '..');
  mkdirSync(dir, { recursive: true });
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, text, { flush: true });
  renameSync(tmp, file);
  fsyncDir(dir);
}

/** Points `current` at `versionDir` atomically (a `current.tmp` link renamed over it); null removes it. */
export function setCurrent(layout: ServiceLayout, versionDir: string | null): void {
  mkdirSync(layout.root, { recursive: true });
  if (versionDir === null) {
    rmSync(layout.current, { force: true });
  } else {
    const tmp = `${layout.current}.tmp`;
    rmSync(tmp, { force: true });
    symlinkSync(relative(layout.root, versionDir), tmp);
    renameSync(tmp, layout.current);
  }
  fsyncDir(layout.root);
}

export function saveManifest(layout: ServiceLayout, version: string, manifest: InstallManifest): void {
  writeFileAtomic(join(layout.manifests, `${version}.json`), JSON.stringify(manifest));
}

/** The verified manifest saved at install, else the unpacked `flotilla.json`, else an empty manifest. */
export function loadManifest(layout: ServiceLayout, version: string, dir?: string): InstallManifest {
  for (const file of [
    join(layout.manifests, `${version}.json`),
    join(dir ?? layout.versionDir(version), 'flotilla.json'),
  ]) {
    if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as InstallManifest;
  }
  return {};
}

export function removeManifest(layout: ServiceLayout, version: string): void {
  rmSync(join(layout.manifests, `${version}.json`), { force: true });
}

export interface FailedVersion {
  version: string;
  /** The cause alone. */
  reason: string;
  /** What happened, in one sentence (absent in records of older agents). */
  summary?: string;
  at: string;
}

/** The one sentence to report for a failed version. */
export function failedVersionMessage(failed: FailedVersion): string {
  return failed.summary ?? `update to ${failed.version} failed: ${failed.reason}`;
}

/** The last version that failed; it is not retried while it stays the desired version. */
export function readFailedVersion(layout: ServiceLayout): FailedVersion | null {
  try {
    return (JSON.parse(readFileSync(layout.failedVersions, 'utf8')) as { failed: FailedVersion | null }).failed;
  } catch {
    return null;
  }
}

export function recordFailedVersion(layout: ServiceLayout, version: string, reason: string, summary?: string): void {
  const failed: FailedVersion = { version, reason, ...(summary ? { summary } : {}), at: new Date().toISOString() };
  writeFileAtomic(layout.failedVersions, JSON.stringify({ failed }));
}

export function clearFailedVersion(layout: ServiceLayout): void {
  rmSync(layout.failedVersions, { force: true });
}

/** False when `desired` is the version that failed last; a new desired version clears that memory. */
export function shouldAttempt(layout: ServiceLayout, desired: string): boolean {
  return readFailedVersion(layout)?.version !== desired;
}
