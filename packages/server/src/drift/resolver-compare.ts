import type { DriftRelease, DriftSeverity, DriftVersionResolution } from '@flotilla/protocol';
import { compileExtraction } from '@flotilla/protocol/drift-extraction';
import type { RunningVersion, UpstreamReference } from './store.ts';
import type { UpstreamVersion } from './upstreams/types.ts';
import {
  type CandidateList,
  candidateList,
  classify,
  compareVersions,
  parseConstraint,
  parseVersion,
  type Version,
} from './versions.ts';

/** Newer releases kept per running version (newest first), so a row stays small. */
export const maxNewer = 100;

/** What the resolver writes on a row. */
export interface Comparison {
  latest: string | null;
  majorsBehind: number | null;
  minorsBehind: number | null;
  patchesBehind: number | null;
  behind: DriftSeverity | null;
  supportEndsAt: number | null;
  resolution: DriftVersionResolution[];
  error: string | null;
}

const severity = (c: { majorsBehind: number; minorsBehind: number; patchesBehind: number }): DriftSeverity =>
  c.majorsBehind > 0 ? 'major' : c.minorsBehind > 0 ? 'minor' : c.patchesBehind > 0 ? 'patch' : 'none';

const unknownFor = (runningVersion: string): DriftVersionResolution => ({
  runningVersion,
  behind: 'unknown',
  majorsBehind: 0,
  minorsBehind: 0,
  patchesBehind: 0,
  availableMajors: [],
  availableMinors: [],
  availablePatches: [],
  newer: [],
  supportEndsAt: null,
});

/** Every running version unknown, with the reason: used when there is nothing to compare with. */
export function unknownComparison(running: RunningVersion[], error: string): Comparison {
  return {
    latest: null,
    majorsBehind: null,
    minorsBehind: null,
    patchesBehind: null,
    behind: running.length > 0 ? 'unknown' : null,
    supportEndsAt: null,
    resolution: distinct(running).map(unknownFor),
    error,
  };
}

const distinct = (running: RunningVersion[]) => [...new Set(running.map((r) => r.runningVersion))];

// endoflife.date writes some cycles' latest as `1.26-eks-1`: the cycle itself is then the version.
function endOfLifeVersion(v: UpstreamVersion): string {
  if (v.cycle === undefined) return v.version;
  const parsed = parseVersion(v.version);
  return parsed && parsed.prerelease.length === 0 ? v.version : v.cycle;
}

/** The end of support of the cycle a version belongs to: the longest cycle whose parts it starts with. */
function supportEnd(running: Version, cycles: UpstreamVersion[]): number | null {
  let best: { parts: number; eol: UpstreamVersion['eol'] } | undefined;
  for (const c of cycles) {
    const cycle = c.cycle === undefined ? null : parseVersion(c.cycle);
    const written = c.cycle?.replace(/^v/i, '').split('.').length ?? 0;
    if (!cycle || written > running.parts.length) continue;
    if (!cycle.parts.slice(0, written).every((p, i) => p === running.parts[i])) continue;
    if (!best || written > best.parts) best = { parts: written, eol: c.eol };
  }
  if (typeof best?.eol !== 'string') return null;
  const at = Date.parse(best.eol);
  return Number.isNaN(at) ? null : at;
}

interface PreparedList {
  /** Extracted name → the release it came from (the first, newest-first lists keep the newest). */
  releases: Map<string, UpstreamVersion>;
  names: string[];
  /** The names that pass the constraint, parsed and sorted once for every running version. */
  eligible: CandidateList;
}

// Rows compared in one pass share their upstream's list object: its extraction and parsing are done
// once per (list, extraction, constraint), not once per row content.
const preparedLists = new WeakMap<UpstreamVersion[], Map<string, PreparedList>>();

function prepareList(list: UpstreamVersion[], upstream: UpstreamReference | null): PreparedList {
  const constraint = upstream?.constraint?.trim() ?? '';
  const key = JSON.stringify([upstream?.extraction ?? null, constraint]);
  const byKey = preparedLists.get(list) ?? new Map<string, PreparedList>();
  const known = byKey.get(key);
  if (known) return known;
  const extract = compileExtraction(upstream?.extraction);
  const wantsPrereleases = parseConstraint(constraint).sets.some((set) => set.some((t) => t.v.prerelease.length > 0));
  const releases = new Map<string, UpstreamVersion>();
  for (const v of list) {
    if (v.deprecated) continue;
    let name: string | null;
    try {
      name = extract(endOfLifeVersion(v));
    } catch {
      name = null;
    }
    if (name === null || releases.has(name)) continue;
    // A release flagged prerelease upstream without a prerelease part (a GitHub prerelease tagged v2.0.0).
    if (v.prerelease && !wantsPrereleases && parseVersion(name)?.prerelease.length === 0) continue;
    releases.set(name, v);
  }
  const names = [...releases.keys()];
  const prepared = { releases, names, eligible: candidateList(names, constraint) };
  byKey.set(key, prepared);
  preparedLists.set(list, byKey);
  return prepared;
}

/**
 * Compares each running version with the upstream list: the extraction turns upstream names into
 * versions, the constraint picks the candidates (prereleases only when it names one), and each running
 * version is classified as Opvic does. The row's figures are those of the oldest running version.
 */
export function compare(
  running: RunningVersion[],
  list: UpstreamVersion[],
  upstream: UpstreamReference | null,
): Comparison {
  let prepared: PreparedList;
  try {
    prepared = prepareList(list, upstream);
  } catch (error) {
    return unknownComparison(running, (error as Error).message);
  }
  const { releases, names, eligible } = prepared;
  const cycles = list.filter((v) => v.cycle !== undefined);
  const errors: string[] = [];
  const resolution: DriftVersionResolution[] = [];
  let oldest: { version: Version; entry: DriftVersionResolution } | undefined;
  const latest = eligible.sorted.at(-1)?.original ?? null;
  for (const runningVersion of distinct(running)) {
    const parsed = parseVersion(runningVersion);
    if (!parsed) {
      errors.push(`running version "${runningVersion}" is not a version`);
      resolution.push(unknownFor(runningVersion));
      continue;
    }
    const c = classify(runningVersion, eligible);
    const newer = c.availableVersions
      .slice(-maxNewer)
      .reverse()
      .map((name): DriftRelease => {
        const r = releases.get(name);
        return {
          version: name,
          ...(r?.publishedAt ? { publishedAt: r.publishedAt } : {}),
          ...(r?.url ? { url: r.url } : {}),
          ...(r?.prerelease ? { prerelease: true } : {}),
        };
      });
    const ends = supportEnd(parsed, cycles);
    const entry: DriftVersionResolution = {
      runningVersion,
      behind: c.latest === null ? 'unknown' : severity(c),
      majorsBehind: c.majorsBehind,
      minorsBehind: c.minorsBehind,
      patchesBehind: c.patchesBehind,
      availableMajors: c.availableMajors,
      availableMinors: c.availableMinors,
      availablePatches: c.availablePatches,
      newer,
      supportEndsAt: ends === null ? null : new Date(ends).toISOString(),
    };
    resolution.push(entry);
    if (!oldest || compareVersions(parsed, oldest.version) < 0) oldest = { version: parsed, entry };
  }
  if (latest === null) {
    if (list.length === 0) errors.push('the upstream lists no versions');
    else if (names.length === 0) errors.push('no upstream name matches the extraction');
    else if (!names.some((n) => parseVersion(n))) errors.push('no upstream name is a version');
    else errors.push('no upstream version passes the constraint');
  }
  const o = oldest?.entry;
  const known = o !== undefined && o.behind !== 'unknown';
  return {
    latest,
    majorsBehind: known ? o.majorsBehind : null,
    minorsBehind: known ? o.minorsBehind : null,
    patchesBehind: known ? o.patchesBehind : null,
    behind: o ? o.behind : running.length > 0 ? 'unknown' : null,
    supportEndsAt: o?.supportEndsAt ? Date.parse(o.supportEndsAt) : null,
    resolution,
    error: errors.length > 0 ? errors.join('; ') : null,
  };
}
