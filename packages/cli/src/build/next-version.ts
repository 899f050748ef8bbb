// The version a build publishes when none is named: the next patch of the service's newest version.

/** The first version of a service that has none. */
export const firstVersion = '0.1.0';

const semverPattern = /^(v?)(\d+)\.(\d+)\.(\d+)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;
const buildPattern = /^(.+-)(\d+(?:\.\d+)*)(?:_\d+)?$/;

/**
 * `1.4.2` → `1.4.3`; a pre-release is followed by its release (`2.0.0-rc.1` → `2.0.0`); a distribution
 * build's last number goes up and its generation goes (`jetto-3.5.1_2` → `jetto-3.5.2`).
 */
export function nextPatchVersion(newest: string | undefined): string {
  if (newest === undefined) return firstVersion;
  const sem = semverPattern.exec(newest);
  if (sem) {
    const [, v, major, minor, patch] = sem as unknown as [string, string, string, string, string];
    const release = newest.replace(/\+.*$/, '').includes('-');
    return `${v}${major}.${minor}.${release ? patch : BigInt(patch) + 1n}`;
  }
  const build = buildPattern.exec(newest);
  if (build) {
    const parts = (build[2] as string).split('.');
    parts[parts.length - 1] = String(BigInt(parts.at(-1) as string) + 1n);
    return `${build[1]}${parts.join('.')}`;
  }
  throw new Error(`cannot tell the version after "${newest}": name the version to build`);
}
