// The agent's directory layout under its `--dir`, and pruning of old version directories.
import { readdirSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';

export interface ServiceLayout {
  /** `services/<name>` */
  root: string;
  /** `services/<name>/versions` */
  versions: string;
  /** `services/<name>/current`: symlink to the running version's directory. */
  current: string;
  journal: string;
  /** Versions that failed and are not retried until the desired version changes. */
  failedVersions: string;
  /** Verified manifests by version (`manifests/<version>.json`), taken from the signed manifest. */
  manifests: string;
  versionDir(version: string): string;
}

export interface AgentLayout {
  root: string;
  services: string;
  downloads: string;
  faults: string;
  service(name: string): ServiceLayout;
}

const versionNamePattern = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;

/** Refuses names that could escape their directory (`..`, `/`), since they become path segments. */
export function assertSafeName(kind: string, name: string): void {
  if (!versionNamePattern.test(name) || name.includes('..'))
    throw new Error(`unsafe ${kind} name: ${JSON.stringify(name)}`);
}

export function agentLayout(dir: string): AgentLayout {
  const root = resolve(dir);
  const services = join(root, 'services');
  return {
    root,
    services,
    downloads: join(root, 'downloads'),
    faults: join(root, 'faults'),
    service(name) {
      assertSafeName('service', name);
      const sroot = join(services, name);
      const versions = join(sroot, 'versions');
      return {
        root: sroot,
        versions,
        current: join(sroot, 'current'),
        journal: join(sroot, 'journal.log'),
        failedVersions: join(sroot, 'failed-versions.json'),
        manifests: join(sroot, 'manifests'),
        versionDir(version) {
          assertSafeName('version', version);
          return join(versions, version);
        },
      };
    },
  };
}

/** The version the `current` link points at, or null when there is no link. */
export function currentVersion(layout: ServiceLayout): string | null {
  try {
    return basename(readlinkSync(layout.current));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * Keeps the `keep` most recently modified version directories (default 3) and deletes the rest,
 * never the current one nor those in `protect` (e.g. the one being installed).
 */
export function pruneVersions(layout: ServiceLayout, options: { keep?: number; protect?: string[] } = {}): string[] {
  const keep = options.keep ?? 3;
  const protect = new Set([...(options.protect ?? []), currentVersion(layout) ?? '']);
  let names: string[];
  try {
    names = readdirSync(layout.versions).filter((n) => !n.startsWith('.') && !n.includes('.tmp-'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const byAge = names
    .map((name) => ({ name, mtime: statSync(join(layout.versions, name)).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime);
  const kept = new Set(byAge.slice(0, keep).map((v) => v.name));
  const removed: string[] = [];
  for (const { name } of byAge) {
    if (kept.has(name) || protect.has(name)) continue;
    rmSync(join(layout.versions, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}
