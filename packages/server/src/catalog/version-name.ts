import semver from 'semver';

/** A parsed version name: semver (`1.2.3`, `v1.2.3-rc.1`) or a distribution build (`jetto-3.5.1_2`). */
export type VersionName =
  | { kind: 'semver'; name: string; semver: semver.SemVer }
  | { kind: 'build'; name: string; prefix: string; build: number[]; generation: number };

const semverPattern =
  /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;
// `<distribution>-<build>[_<generation>]`; the distribution starts with a letter and holds no dots.
const buildPattern = /^([a-z][a-z0-9]*(?:-[a-z0-9]+)*)-(\d+(?:\.\d+)*)(?:_(\d+))?$/;

export function parseVersionName(name: string): VersionName | undefined {
  if (name.length > 128) return undefined;
  if (semverPattern.test(name)) {
    const parsed = semver.parse(name);
    if (parsed) return { kind: 'semver', name, semver: parsed };
  }
  const m = buildPattern.exec(name);
  if (!m) return undefined;
  const build = (m[2] as string).split('.').map(Number);
  const generation = m[3] === undefined ? 0 : Number(m[3]);
  if (!build.every(Number.isSafeInteger) || !Number.isSafeInteger(generation)) return undefined;
  return { kind: 'build', name, prefix: m[1] as string, build, generation };
}

/** The group inside which names are ordered: semver, or one distribution prefix. */
export function versionGroup(v: VersionName): string {
  return v.kind === 'semver' ? 'semver' : `build:${v.prefix}`;
}

/**
 * Orders two names of the same group (semver precedence; builds numerically, then `_N` generation);
 * `undefined` when they are not comparable (different kinds or distribution prefixes).
 * Equal precedence (`v1.0.0` and `1.0.0`, build metadata) falls back to the text, so the order is total.
 */
export function compareVersionNames(a: VersionName, b: VersionName): number | undefined {
  if (versionGroup(a) !== versionGroup(b)) return undefined;
  let c = 0;
  if (a.kind === 'semver' && b.kind === 'semver') c = semver.compare(a.semver, b.semver);
  else if (a.kind === 'build' && b.kind === 'build') {
    const n = Math.max(a.build.length, b.build.length);
    for (let i = 0; i < n && c === 0; i++) c = Math.sign((a.build[i] ?? 0) - (b.build[i] ?? 0));
    if (c === 0) c = Math.sign(a.build.length - b.build.length);
    if (c === 0) c = Math.sign(a.generation - b.generation);
  }
  return c !== 0 ? c : a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * Newest first: inside a group by version order; groups by their latest publication time, so a
 * service that switched naming schemes lists its current scheme first. Names that do not parse go last.
 */
export function sortNewestFirst<T extends { version: string; createdAt: string }>(items: readonly T[]): T[] {
  const parsed = items.map((item) => ({ item, name: parseVersionName(item.version) }));
  const groupLatest = new Map<string, string>();
  for (const p of parsed) {
    const g = p.name ? versionGroup(p.name) : '~';
    const seen = groupLatest.get(g);
    if (seen === undefined || p.item.createdAt > seen) groupLatest.set(g, p.item.createdAt);
  }
  const groupOf = (p: (typeof parsed)[number]) => (p.name ? versionGroup(p.name) : '~');
  return parsed
    .sort((x, y) => {
      const gx = groupOf(x);
      const gy = groupOf(y);
      if (gx !== gy) {
        if (gx === '~' || gy === '~') return gx === '~' ? 1 : -1;
        const tx = groupLatest.get(gx) as string;
        const ty = groupLatest.get(gy) as string;
        return tx !== ty ? (tx > ty ? -1 : 1) : gx < gy ? -1 : 1;
      }
      if (x.name && y.name) return -(compareVersionNames(x.name, y.name) ?? 0);
      return x.item.version < y.item.version ? 1 : -1;
    })
    .map((p) => p.item);
}
