// The Kubernetes drift agent's core: watches VersionTracker resources (both API groups), keeps one
// shared list/watch per (kind, namespaces, selector) they need, evaluates every tracker when something
// changes, writes each tracker's `.status` when it changed, and hands every subject to the reporter.
import type { DriftSubjectReport, VersionTracker } from '@flotilla/protocol';
import { canonicalJson } from '@flotilla/protocol/canonical-json';
import { compileExtraction } from '@flotilla/protocol/drift-extraction';
import { parseTrackerDocument } from '@flotilla/protocol/drift-tracker';
import { Check as matchesTrackerSchema } from '@flotilla/protocol/drift-tracker-check';
import { type CompiledTracker, compileTracker } from './evaluate.ts';
import { KubeApiError, type KubernetesObject, kubeClient } from './kube-client.ts';
import type { KubeConfig } from './kube-config.ts';
import { labelSelectorString } from './label-selector.ts';
import { sameStatus, type TrackerStatus, trackerStatus } from './tracker-status.ts';
import { type KindWatch, type WatchedResource, watchKind, watchResource } from './watch-kinds.ts';

export const trackerGroups = ['opvic.skillz.com', 'vt.skillz.com'] as const;
export const trackerVersion = 'v1alpha1';
export const trackerPlural = 'versiontrackers';

export type DriftLog = (level: 'info' | 'warn' | 'error', message: string) => void;

export interface DriftAgentOptions {
  kubeConfig: KubeConfig;
  /** Every subject, called each time the set changed, once every watch has answered at least once. */
  onSubjects: (subjects: DriftSubjectReport[]) => void;
  log?: DriftLog;
  /** Wait after a change before evaluating, so a rollout is one evaluation (default 250 ms). */
  debounceMs?: number;
  /** Objects per list page (default 500). */
  pageSize?: number;
  /** API groups whose VersionTrackers are read (default both). */
  groups?: readonly string[];
  /** Write `.status` (default true). */
  writeStatus?: boolean;
}

export interface DriftAgent {
  /** Resolves after the first complete evaluation (every tracker group and kind watch answered once). */
  readonly ready: Promise<void>;
  /** The subjects of the last evaluation. */
  subjects(): DriftSubjectReport[];
  /** Stops every watch and waits for status writes in flight. */
  stop(): Promise<void>;
}

interface Shared {
  watch: KindWatch | undefined;
  synced: boolean;
  error: string | undefined;
  used: boolean;
}

interface GroupState {
  watch: KindWatch | undefined;
  settled: boolean;
}

/** `HTTP 403: pods is forbidden: …` from a KubeApiError, else the error's message. */
export function describeKubeError(error: unknown): string {
  const e = error as { code?: unknown; body?: unknown; message?: unknown } | null;
  if (typeof e?.code === 'number') {
    let message = '';
    try {
      const body = typeof e.body === 'string' ? JSON.parse(e.body) : e.body;
      message = typeof body?.message === 'string' ? body.message : '';
    } catch {}
    return `HTTP ${e.code}${message ? `: ${message}` : ''}`;
  }
  return e instanceof Error ? e.message : String(error);
}

const extractionProblem = (e: Parameters<typeof compileExtraction>[0]) => {
  try {
    compileExtraction(e);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
};

export function trackerResource(group: string): WatchedResource {
  return { apiPath: `/apis/${group}/${trackerVersion}`, plural: trackerPlural, namespaced: true };
}

/**
 * PUT of a tracker's status subresource. A 409 (changed meanwhile) re-reads it and tries once more,
 * unless its spec changed (another generation): that version's evaluation writes its own status.
 */
let constraintCheck: ((constraint: string) => string | undefined) | null = null;
let constraintLoading: Promise<void> | null = null;
function loadConstraintCheck(): Promise<void> {
  constraintLoading ??= import('@flotilla/protocol/drift-versions').then((m) => {
    constraintCheck = m.constraintProblem;
  });
  return constraintLoading;
}

// Trackers are checked by the precompiled schema check; TypeBox (about 10 MB) loads only to explain
// a tracker the check refuses.
let explainSchema: ((doc: object) => string[]) | null = null;
let explainerLoading: Promise<void> | null = null;
function loadSchemaExplainer(): Promise<void> {
  explainerLoading ??= import('@flotilla/protocol').then((m) => {
    explainSchema = (doc) => m.driftSchemaProblems(m.VersionTracker, doc);
  });
  return explainerLoading;
}
const schemaProblems = (doc: object): string[] =>
  matchesTrackerSchema(doc) ? [] : (explainSchema?.(doc) ?? ['(document): does not match the VersionTracker schema']);

async function putStatus(
  config: KubeConfig,
  group: string,
  object: KubernetesObject,
  status: TrackerStatus,
): Promise<boolean> {
  const client = kubeClient(config);
  const { namespace = '', name = '' } = object.metadata ?? {};
  const path = `/apis/${group}/${trackerVersion}/namespaces/${encodeURIComponent(namespace)}/${trackerPlural}/${encodeURIComponent(name)}`;
  try {
    await client.put(`${path}/status`, { ...object, status });
    return true;
  } catch (error) {
    if (!(error instanceof KubeApiError) || error.code !== 409) throw error;
    const latest = await client.get(path);
    if (latest.metadata?.generation !== object.metadata?.generation) return false;
    await client.put(`${path}/status`, { ...latest, status });
    return true;
  }
}

export async function startDriftAgent(options: DriftAgentOptions): Promise<DriftAgent> {
  const log: DriftLog = options.log ?? (() => {});
  const debounceMs = options.debounceMs ?? 250;
  const shared = new Map<string, Shared>();
  const groups = new Map<string, GroupState>();
  const writing = new Map<string, Promise<void>>();
  const written = new Map<string, string>();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let lastSubjects = '';
  let subjects: DriftSubjectReport[] = [];
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });

  const schedule = () => {
    if (stopped || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      if (!stopped) evaluate();
    }, debounceMs);
  };

  /** The shared watch of a tracker's objects, started on first use. */
  const acquire = (compiled: CompiledTracker, tracker: VersionTracker): Shared => {
    const { namespaces = [], selector } = tracker.spec.resources;
    const scoped = compiled.kind === 'Nodes' ? [] : [...new Set(namespaces)].sort();
    const key = canonicalJson([compiled.kind, scoped, labelSelectorString(selector), compiled.projection]);
    let entry = shared.get(key);
    if (!entry) {
      const state: Shared = { watch: undefined, synced: false, error: undefined, used: true };
      entry = state;
      shared.set(key, state);
      void watchKind({
        kubeConfig: options.kubeConfig,
        kind: compiled.kind,
        namespaces: scoped,
        ...(selector ? { selector } : {}),
        onChange: schedule,
        transform: compiled.transform,
        onError: (error) => {
          state.error = describeKubeError(error);
          log('warn', `list/watch of ${compiled.kind} failed (retrying): ${state.error}`);
          schedule();
        },
        debounceMs: 0,
        ...(options.pageSize ? { pageSize: options.pageSize } : {}),
      }).then((watch) => {
        if (stopped || shared.get(key) !== state) return void watch.stop();
        state.watch = watch;
        void watch.synced.then(() => {
          state.synced = true;
          state.error = undefined;
          schedule();
        });
      });
    }
    entry.used = true;
    return entry;
  };

  const writeStatus = (group: string, object: KubernetesObject, status: TrackerStatus) => {
    const name = object.metadata?.name ?? '';
    const namespace = object.metadata?.namespace ?? '';
    const id = `${group}/${namespace}/${name}`;
    const uid = object.metadata?.uid ?? id;
    const text = canonicalJson(status);
    // In flight, or written and not yet back through the watch: the echo brings a new evaluation.
    if (writing.has(uid) || written.get(uid) === text) return;
    const done = putStatus(options.kubeConfig, group, object, status)
      .then(
        (ok) => void (ok && written.set(uid, text)),
        (error: unknown) => {
          // 409 twice, or a new spec: its new version is evaluated when the watch brings it.
          if ((error as { code?: unknown }).code !== 409) {
            log('warn', `writing the status of ${id} failed: ${describeKubeError(error)}`);
          }
        },
      )
      .finally(() => {
        writing.delete(uid);
        schedule();
      });
    writing.set(uid, done);
  };

  function evaluate(): void {
    for (const state of groups.values()) if (!state.settled) return;
    const trackers: { group: string; object: KubernetesObject }[] = [];
    for (const [group, state] of groups) {
      for (const object of state.watch?.list() ?? []) trackers.push({ group, object });
    }
    // The constraint parser (semver, ~2 MB) loads only once a tracker names a constraint.
    const hasConstraint = (o: KubernetesObject) =>
      typeof (o as { spec?: { remoteVersion?: { constraint?: unknown } } }).spec?.remoteVersion?.constraint ===
      'string';
    if (!constraintCheck && trackers.some((t) => hasConstraint(t.object))) {
      loadConstraintCheck().then(schedule, (error: unknown) => log('error', `loading the constraint parser: ${error}`));
      return;
    }
    if (!explainSchema && trackers.some((t) => !matchesTrackerSchema(t.object))) {
      loadSchemaExplainer().then(schedule, (error: unknown) => log('error', `loading the schema checker: ${error}`));
      return;
    }
    const id = (t: { group: string; object: KubernetesObject }) =>
      `${t.object.metadata?.namespace ?? ''}/${t.object.metadata?.name ?? ''}/${t.group}`;
    trackers.sort((a, b) => id(a).localeCompare(id(b)));
    for (const entry of shared.values()) entry.used = false;

    let pending = false;
    const bySubject = new Map<string, string>();
    const next: DriftSubjectReport[] = [];
    for (const { group, object } of trackers) {
      const doc = object as KubernetesObject & { spec?: { name?: unknown }; status?: unknown };
      const where = `${group}/${object.metadata?.namespace}/${object.metadata?.name}`;
      const parsed = parseTrackerDocument(doc, schemaProblems, {
        extraction: extractionProblem,
        ...(constraintCheck ? { constraint: constraintCheck } : {}),
      });
      let error = parsed.errors.length > 0 ? parsed.errors.join('; ') : undefined;
      let result: ReturnType<CompiledTracker['evaluate']> | null = null;
      const tracker = parsed.tracker;
      if (tracker && !error) {
        const strategy = tracker.spec.resources.strategy ?? 'Pods';
        if (['Command', 'File', 'Package'].includes(strategy)) {
          error = `spec.resources.strategy: ${strategy} is a host strategy, run by flotilla agent, not in a cluster`;
        } else {
          try {
            const compiled = compileTracker(tracker);
            const watch = acquire(compiled, tracker);
            if (watch.synced && watch.watch) result = compiled.evaluate(watch.watch.list());
            else if (watch.error) error = `cannot list ${compiled.kind}: ${watch.error}`;
            else pending = true;
          } catch (e) {
            error = (e as Error).message;
          }
        }
      }
      const name = typeof doc.spec?.name === 'string' ? doc.spec.name : undefined;
      const owner = name === undefined ? undefined : bySubject.get(name);
      if (owner) error = `spec.name: ${name} is already tracked by ${owner}`;
      else if (name !== undefined && name.length > 0 && name.length <= 253) {
        bySubject.set(name, where);
        next.push({
          subject: name,
          namespace: object.metadata?.namespace ?? null,
          versions: result?.versions ?? [],
          upstream: tracker?.spec.remoteVersion ?? null,
          error: error ?? (result && result.versions.length === 0 ? (result.note ?? null) : null),
        });
      }
      if (options.writeStatus !== false && (result || error)) {
        const status = trackerStatus(doc, tracker, result, error);
        if (!sameStatus(doc.status, status)) writeStatus(group, object, status);
      }
    }
    const uids = new Set(trackers.map((t) => t.object.metadata?.uid));
    for (const uid of written.keys()) if (!uids.has(uid)) written.delete(uid);
    for (const [key, entry] of shared) {
      if (entry.used) continue;
      shared.delete(key);
      void entry.watch?.stop();
    }
    if (pending) return;
    subjects = next;
    markReady();
    const text = canonicalJson(next);
    if (text === lastSubjects) return;
    lastSubjects = text;
    options.onSubjects(next);
  }

  for (const group of options.groups ?? trackerGroups) {
    const state: GroupState = { watch: undefined, settled: false };
    groups.set(group, state);
    let reported = false;
    const watch = await watchResource(trackerResource(group), {
      kubeConfig: options.kubeConfig,
      onChange: schedule,
      onError: (error) => {
        const why = describeKubeError(error);
        // A group whose CRD is not installed answers 404: the other group is still evaluated.
        if (!reported || !state.settled) log('warn', `VersionTrackers of ${group}: ${why} (retrying)`);
        reported = true;
        state.settled = true;
        schedule();
      },
      debounceMs: 0,
      ...(options.pageSize ? { pageSize: options.pageSize } : {}),
    });
    state.watch = watch;
    void watch.synced.then(() => {
      state.settled = true;
      schedule();
    });
  }

  return {
    ready,
    subjects: () => subjects,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      const watches = [...groups.values()].map((g) => g.watch).concat([...shared.values()].map((s) => s.watch));
      await Promise.all(watches.map((w) => w?.stop()));
      await Promise.all(writing.values());
    },
  };
}
