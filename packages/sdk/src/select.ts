import type { VersionInfo } from './types.ts';
import { compareNewestFirst, compareVersions, parseVersion } from './version.ts';

export interface UpgradeChoice {
  latest?: VersionInfo;
  blockedBy?: VersionInfo;
}

/** Returns a copy sorted newest first; names that are not versions keep their order at the end. */
export function sortNewestFirst(versions: readonly VersionInfo[]): VersionInfo[] {
  return [...versions].sort((a, b) => compareNewestFirst(a.name, b.name));
}

/**
 * Picks the newest tagged version newer than `appVersion` that can be installed directly, and,
 * when an even newer one needs an intermediate step, reports it as `blockedBy`.
 * `versions` must already be sorted newest first.
 */
export function chooseUpgrade(versions: readonly VersionInfo[], appVersion: string, tag: string | null): UpgradeChoice {
  const running = parseVersion(appVersion);
  if (!running) return {};
  const newer = versions.filter(
    (version) => (tag === null || version.tags.includes(tag)) && compareVersions(version.name, running) === 1,
  );
  const latest = newer.find((version) => isReachableFrom(version, running.raw));
  const newest = newer[0];
  if (newest === undefined || newest === latest) return latest ? { latest } : {};
  return latest ? { latest, blockedBy: newest } : { blockedBy: newest };
}

// A minimum that cannot be compared with the running version (another prefix, not a version)
// cannot be shown to be met, so the version counts as unreachable.
function isReachableFrom(version: VersionInfo, appVersion: string): boolean {
  if (version.minUpgradableVersion.trim() === '') return true;
  const order = compareVersions(version.minUpgradableVersion, appVersion);
  return order !== undefined && order <= 0;
}
