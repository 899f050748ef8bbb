// A tracker's running versions from the objects it selects, aggregated as Opvic does (one entry per
// running version and source, with a resource count), but reading every container image.
import type { DriftRunningVersion, VersionTracker } from '@flotilla/protocol';
import { compileExtraction, ExtractionError } from '@flotilla/protocol/drift-extraction';
import { imagesOf, parseImageRef, type TrackedKind } from './image-ref.ts';
import { compileJsonPath } from './jsonpath.ts';
import type { KubernetesObject } from './kube-client.ts';

/** At most this many (version, source) entries per subject, the most common first (the report's cap). */
export const maxVersionsPerSubject = 1000;

export interface Evaluation {
  versions: DriftRunningVersion[];
  /** Objects that gave at least one version. */
  resourceCount: number;
  /** Why some objects gave no version (digest-only images, missing fields), or undefined. */
  note?: string;
}

export interface CompiledTracker {
  kind: TrackedKind;
  /** What the cache keeps of each object (`images`, or `field:<path>`): trackers that agree share a watch. */
  projection: string;
  /** Shrinks an object to that, before the watch caches it. */
  transform(object: KubernetesObject): KubernetesObject;
  /** Running versions of cached (transformed) objects. */
  evaluate(objects: readonly KubernetesObject[]): Evaluation;
}

/** Where a `field:` projection keeps the values its path selected. */
const VALUES = 'flotillaFieldValues';

/**
 * One copy of each repeated string (namespaces, images, container names) in the cache: JSON.parse gives
 * every object its own. Bounded: cleared when full, which costs only the sharing.
 */
const interned = new Map<string, string>();
function intern<T>(value: T): T {
  if (typeof value !== 'string') return value;
  const known = interned.get(value);
  if (known !== undefined) return known as T;
  if (interned.size >= 10_000) interned.clear();
  interned.set(value, value);
  return value;
}

const core = (o: KubernetesObject) => ({
  name: o.metadata?.name,
  namespace: intern(o.metadata?.namespace),
  resourceVersion: o.metadata?.resourceVersion,
});

/**
 * Shrinks an object to what a projection reads, before the watch caches it: a real Pod is several KiB
 * (managedFields, status), its images a few dozen bytes, which is what 10,000 cached pods cost.
 */
export function projector(kind: TrackedKind) {
  return (o: KubernetesObject): KubernetesObject => {
    const podSpec: Record<string, { name: string; image: string }[]> = {};
    const lists = { container: 'containers', init: 'initContainers', ephemeral: 'ephemeralContainers' } as const;
    for (const { container, type, image } of imagesOf(o, kind)) {
      podSpec[lists[type]] = [...(podSpec[lists[type]] ?? []), { name: intern(container), image: intern(image) }];
    }
    const spec =
      kind === 'Pods'
        ? podSpec
        : kind === 'CronJobs'
          ? { jobTemplate: { spec: { template: { spec: podSpec } } } }
          : { template: { spec: podSpec } };
    return { metadata: core(o), spec } as KubernetesObject;
  };
}

/** Compiles the local-version part of a parsed tracker; throws with `spec.<field>: <reason>` when invalid. */
export function compileTracker(tracker: VersionTracker): CompiledTracker {
  const kind = (tracker.spec.resources.strategy ?? 'Pods') as TrackedKind;
  const local = tracker.spec.localVersion ?? {};
  let extract: (text: string) => string | null;
  try {
    extract = compileExtraction(local.extraction);
  } catch (error) {
    throw new Error(`spec.localVersion.extraction.regex: ${(error as Error).message}`);
  }
  if (local.strategy === 'FieldSelection' || local.strategy === 'FieldSelector') {
    let select: (object: unknown) => unknown[];
    try {
      select = compileJsonPath(local.fieldSelector ?? '');
    } catch (error) {
      throw new Error(`spec.localVersion.fieldSelector: ${(error as Error).message}`);
    }
    // Only the values the path selects are kept (objects and lists as an empty marker, noted later).
    const transform = (o: KubernetesObject) =>
      ({
        metadata: core(o),
        [VALUES]: select(o).map((v) => (typeof v === 'object' ? {} : intern(v))),
      }) as KubernetesObject;
    const values = (o: unknown) => {
      const kept = (o as Record<string, unknown>)[VALUES];
      return Array.isArray(kept) ? kept : select(o);
    };
    return {
      kind,
      projection: `field:${local.fieldSelector}`,
      transform,
      evaluate: (objects) => byField(objects, kind, values, memoized(extract)),
    };
  }
  // What each image gives, kept across evaluations: 10,000 pods usually run a few dozen images.
  const outcomes = new Map<string, ImageOutcome>();
  if (kind === 'Nodes') {
    throw new Error(
      'spec.localVersion.strategy: Nodes run no images; use FieldSelection, e.g. .status.nodeInfo.kubeletVersion',
    );
  }
  return {
    kind,
    projection: 'images',
    transform: projector(kind),
    evaluate: (objects) => byImage(objects, kind, local.extraction ? extract : undefined, outcomes),
  };
}

class Tally {
  private readonly entries = new Map<string, DriftRunningVersion>();
  private readonly skipped = new Map<string, number>();
  resourceCount = 0;
  private readonly kind: TrackedKind;
  constructor(kind: TrackedKind) {
    this.kind = kind;
  }
  add(runningVersion: string, extractedFrom: string, image?: string): void {
    const key = `${runningVersion}\n${extractedFrom}`;
    const entry = this.entries.get(key);
    if (entry) entry.resourceCount++;
    else
      this.entries.set(key, {
        runningVersion,
        resourceCount: 1,
        resourceKind: this.kind,
        extractedFrom: extractedFrom.slice(0, 1024),
        ...(image ? { image: image.slice(0, 512) } : {}),
      });
  }
  skip(why: string): void {
    this.skipped.set(why, (this.skipped.get(why) ?? 0) + 1);
  }
  result(): Evaluation {
    const versions = [...this.entries.values()]
      .sort(
        (a, b) =>
          b.resourceCount - a.resourceCount ||
          a.runningVersion.localeCompare(b.runningVersion) ||
          (a.extractedFrom ?? '').localeCompare(b.extractedFrom ?? ''),
      )
      .slice(0, maxVersionsPerSubject);
    const notes = [...this.skipped].map(([why, n]) => `${n} ${why}`);
    return { versions, resourceCount: this.resourceCount, ...(notes.length ? { note: notes.join('; ') } : {}) };
  }
}

function safely(extract: (text: string) => string | null, text: string): string | null {
  try {
    return extract(text);
  } catch (error) {
    if (error instanceof ExtractionError) return null;
    throw error;
  }
}

/** The extraction of each distinct text once, kept across evaluations (bounded like the image outcomes). */
function memoized(extract: (text: string) => string | null): (text: string) => string | null {
  const results = new Map<string, string | null>();
  return (text) => {
    let result = results.get(text);
    if (result === undefined) {
      result = safely(extract, text);
      if (results.size >= 10_000) results.clear();
      results.set(text, result);
    }
    return result;
  };
}

function byField(
  objects: readonly KubernetesObject[],
  kind: TrackedKind,
  select: (object: unknown) => unknown[],
  extract: (text: string) => string | null,
): Evaluation {
  const tally = new Tally(kind);
  for (const object of objects) {
    const seen = new Set<string>();
    for (const value of select(object)) {
      if (typeof value === 'object') {
        tally.skip('value(s) selected an object or a list, not a string');
        continue;
      }
      const text = String(value);
      const version = safely(extract, text);
      if (version === null) {
        tally.skip('value(s) did not match the extraction');
        continue;
      }
      const key = `${version}\n${text}`;
      if (seen.has(key)) continue;
      seen.add(key);
      tally.add(version, text);
    }
    if (seen.size > 0) tally.resourceCount++;
  }
  return tally.result();
}

/**
 * The tag of every container and init container image. An untagged image runs `latest` and is reported
 * so; a digest-only image (`repo@sha256:…`) has no version to read and is skipped, counted in the note.
 * With an extraction, it is matched against the tag, then (Opvic's habit) against the whole reference.
 */
type ImageOutcome = { skip: string } | { version: string; source: string };

function judgeImage(image: string, extract: ((text: string) => string | null) | undefined): ImageOutcome {
  let ref: ReturnType<typeof parseImageRef>;
  try {
    ref = parseImageRef(image);
  } catch {
    return { skip: 'image(s) with an invalid reference' };
  }
  if (ref.tag === undefined) return { skip: 'image(s) pinned by digest only (no tag to read a version from)' };
  const version = extract ? (safely(extract, ref.tag) ?? safely(extract, image)) : ref.tag;
  if (version === null) return { skip: 'image tag(s) did not match the extraction' };
  return { version, source: `${ref.registry}/${ref.repository}` };
}

function byImage(
  objects: readonly KubernetesObject[],
  kind: TrackedKind,
  extract: ((text: string) => string | null) | undefined,
  outcomes: Map<string, ImageOutcome>,
): Evaluation {
  const tally = new Tally(kind);
  for (const object of objects) {
    const seen = new Set<string>();
    for (const { image } of imagesOf(object, kind)) {
      let outcome = outcomes.get(image);
      if (!outcome) {
        outcome = judgeImage(image, extract);
        // Bounded: a cluster of ever-new tags (CI builds) does not grow it without end.
        if (outcomes.size >= 10_000) outcomes.clear();
        outcomes.set(image, outcome);
      }
      if ('skip' in outcome) {
        tally.skip(outcome.skip);
        continue;
      }
      if (seen.has(image)) continue;
      seen.add(image);
      tally.add(outcome.version, image, outcome.source);
    }
    if (seen.size > 0) tally.resourceCount++;
  }
  return tally.result();
}
