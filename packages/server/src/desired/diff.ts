/** A desired-version list: `{ service: version }`. */
export type VersionMap = Record<string, string>;

export interface VersionDiff {
  added: Array<{ service: string; version: string }>;
  removed: Array<{ service: string; version: string }>;
  changed: Array<{ service: string; from: string; to: string }>;
}

/** What changes when going from list `from` to list `to`, each part sorted by service name. */
export function diffVersions(from: VersionMap, to: VersionMap): VersionDiff {
  const diff: VersionDiff = { added: [], removed: [], changed: [] };
  const services = [...new Set([...Object.keys(from), ...Object.keys(to)])].sort();
  for (const service of services) {
    const a = Object.hasOwn(from, service) ? from[service] : undefined;
    const b = Object.hasOwn(to, service) ? to[service] : undefined;
    if (a === undefined && b !== undefined) diff.added.push({ service, version: b });
    else if (a !== undefined && b === undefined) diff.removed.push({ service, version: a });
    else if (a !== undefined && b !== undefined && a !== b) diff.changed.push({ service, from: a, to: b });
  }
  return diff;
}

export function isEmptyDiff(diff: VersionDiff): boolean {
  return diff.added.length === 0 && diff.removed.length === 0 && diff.changed.length === 0;
}

/** The service@versions that `to` makes desired and `from` did not have: what the tested gate checks. */
export function newlyDesired(from: VersionMap, to: VersionMap): Array<{ service: string; version: string }> {
  const diff = diffVersions(from, to);
  return [...diff.added, ...diff.changed.map((c) => ({ service: c.service, version: c.to }))].sort((x, y) =>
    x.service < y.service ? -1 : x.service > y.service ? 1 : 0,
  );
}

/** A copy of `list` with keys in sorted order, so stored JSON and comparisons are stable. */
export function sortedVersions(list: VersionMap): VersionMap {
  const out: VersionMap = {};
  for (const key of Object.keys(list).sort()) out[key] = list[key] as string;
  return out;
}
