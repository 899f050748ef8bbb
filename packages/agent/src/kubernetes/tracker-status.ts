// A VersionTracker's `.status` as Opvic writes it (id, namespace, totalResourceCount, uniqVersions,
// versions, localVersion, remoteVersion), plus `error`, `note` and `observedGeneration`. The schema
// also goes into the CRD (scripts/generate-drift-crd.ts), so the API server keeps every field.
// Its JSON Schema for the CRD is in tracker-status-schema.ts, which the agent does not load.
import type {
  DriftRunningVersion,
  TrackerLocalVersion,
  TrackerRemoteVersion,
  VersionTracker,
} from '@flotilla/protocol';
import { canonicalJson } from '@flotilla/protocol/canonical-json';

export interface TrackerStatus {
  id?: string;
  namespace?: string;
  totalResourceCount?: number;
  uniqVersions?: string[];
  versions?: { version: string; resourceCount: number; resourceKind: string; extractedFrom: string }[];
  localVersion?: TrackerLocalVersion;
  remoteVersion?: TrackerRemoteVersion;
  error?: string;
  note?: string;
  observedGeneration?: number;
}

/** At most this many entries of `versions` in `.status` (the report carries up to 1,000). */
export const maxStatusVersions = 100;

export function trackerStatus(
  doc: { metadata?: { namespace?: string; generation?: number }; spec?: unknown },
  parsed: VersionTracker | null,
  result: { versions: readonly DriftRunningVersion[]; resourceCount: number; note?: string } | null,
  error: string | undefined,
): TrackerStatus {
  const spec = (parsed?.spec ?? doc.spec) as Partial<VersionTracker['spec']> | undefined;
  const status: TrackerStatus = {};
  if (typeof spec?.name === 'string') status.id = spec.name;
  if (doc.metadata?.namespace) status.namespace = doc.metadata.namespace;
  if (result) {
    status.totalResourceCount = result.resourceCount;
    status.uniqVersions = [...new Set(result.versions.map((v) => v.runningVersion))].sort();
    status.versions = result.versions.slice(0, maxStatusVersions).map((v) => ({
      version: v.runningVersion,
      resourceCount: v.resourceCount,
      resourceKind: v.resourceKind ?? '',
      extractedFrom: v.extractedFrom ?? '',
    }));
    if (result.note) status.note = result.note;
  }
  if (parsed?.spec.localVersion) status.localVersion = parsed.spec.localVersion;
  if (parsed?.spec.remoteVersion) status.remoteVersion = parsed.spec.remoteVersion;
  if (error) status.error = error.slice(0, 2048);
  if (typeof doc.metadata?.generation === 'number') status.observedGeneration = doc.metadata.generation;
  return status;
}

/** Whether the object's current status already says this (key order and absent keys ignored). */
export function sameStatus(current: unknown, next: TrackerStatus): boolean {
  return current !== null && typeof current === 'object' && canonicalJson(current) === canonicalJson(next);
}
