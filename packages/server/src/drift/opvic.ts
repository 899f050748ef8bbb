import type { SubjectRow } from './store.ts';

// Opvic's read API answers Go structs: every field present, zero values ("", [], false) for unset ones.

/** Opvic's `SubjectVersion`: the `version` object of its agent payload. */
export interface OpvicSubjectVersion {
  id: string;
  namespace: string;
  count: number;
  uniqVersions: string[];
  versions: Array<{ runningVersion: string; resourceCount: number; resourceKind: string; extractedFrom: string }>;
  remoteVersion: {
    provider: string;
    strategy: string;
    repo: string;
    chart: string;
    extraction: { regex: { pattern: string; result: string } };
    constraint: string;
  };
}

/** Opvic's `VersionInfos`: the comparison of one (agent, subject). */
export interface OpvicVersionInfos {
  id: string;
  agentId: string;
  resourceCount: number;
  runningVersions: string[];
  latestVersion: string;
  remoteProvider: string;
  remoteRepo: string;
  versions: Array<{
    currentVersion: string;
    resourceCount: number;
    resourceKind: string;
    extractedFrom: string;
    latestVersion: string;
    availableVersions: string[];
    availableMajors: string[];
    availableMinors: string[];
    availablePatches: string[];
    majorAvailable: boolean;
    minorAvailable: boolean;
    patchAvailable: boolean;
  }>;
}

/** What Opvic says when a subject has no upstream to compare with. */
export const opvicMissing = 'missing';

const unique = (values: string[]) => [...new Set(values)];

export function opvicSubjectVersion(r: SubjectRow): OpvicSubjectVersion {
  const up = r.upstream;
  return {
    id: r.subject,
    namespace: r.namespace ?? '',
    count: r.versions.reduce((n, v) => n + v.resourceCount, 0),
    uniqVersions: unique(r.versions.map((v) => v.runningVersion)),
    versions: r.versions.map((v) => ({
      runningVersion: v.runningVersion,
      resourceCount: v.resourceCount,
      resourceKind: v.resourceKind ?? '',
      extractedFrom: v.extractedFrom ?? '',
    })),
    remoteVersion: {
      provider: up?.provider ?? '',
      strategy: up?.strategy ?? '',
      repo: up?.repo ?? '',
      chart: up?.chart ?? '',
      extraction: {
        regex: { pattern: up?.extraction?.regex.pattern ?? '', result: up?.extraction?.regex.result ?? '' },
      },
      constraint: up?.constraint ?? '',
    },
  };
}

/**
 * Built from the stored comparison; undefined while a subject with an upstream has not been compared
 * yet (Opvic answers 404 until its first reconcile). A subject with no upstream reads `missing`.
 */
export function opvicVersionInfos(r: SubjectRow): OpvicVersionInfos | undefined {
  const compared = r.resolution !== null;
  if (!compared && (r.upstream !== null || r.upstreamKey !== null)) return undefined;
  const latest = compared ? (r.latest ?? opvicMissing) : opvicMissing;
  return {
    id: r.subject,
    agentId: r.place,
    resourceCount: r.versions.reduce((n, v) => n + v.resourceCount, 0),
    runningVersions: unique(r.versions.map((v) => v.runningVersion)),
    latestVersion: latest,
    remoteProvider: r.upstream?.provider ?? '',
    remoteRepo: r.upstream?.repo ?? '',
    versions: r.versions.map((v) => {
      const res = r.resolution?.find((x) => x.runningVersion === v.runningVersion);
      const majors = res?.availableMajors ?? [];
      const minors = res?.availableMinors ?? [];
      const patches = res?.availablePatches ?? [];
      return {
        currentVersion: v.runningVersion,
        resourceCount: v.resourceCount,
        resourceKind: v.resourceKind ?? '',
        extractedFrom: v.extractedFrom ?? '',
        latestVersion: latest,
        // `newer` is newest first; Opvic lists ascending.
        availableVersions: (res?.newer ?? []).map((n) => n.version).reverse(),
        availableMajors: majors,
        availableMinors: minors,
        availablePatches: patches,
        majorAvailable: majors.length > 0,
        minorAvailable: minors.length > 0,
        patchAvailable: patches.length > 0,
      };
    }),
  };
}
