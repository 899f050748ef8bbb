import type { DriftExtraction, LabelSelector, TrackerRemoteVersion, VersionTracker } from './drift.ts';
import {
  dnsSubdomain,
  kubernetesStrategies,
  providerStrategies,
  type ResourceStrategy,
  versionTrackerApiVersions,
} from './drift-constants.ts';

// Checks and normalisation of a VersionTracker beyond its schema. The schema check comes in as a
// function, so that the drift agent can use a precompiled one and load TypeBox only to explain a refusal.

export type ParsedTracker = { tracker: VersionTracker; errors: [] } | { tracker: null; errors: string[] };
/** Optional deeper checks (the extraction engine and constraint parser live outside this module). */
export interface TrackerChecks {
  /** Returns why an extraction is refused, or undefined. */
  extraction?: (e: DriftExtraction) => string | undefined;
  /** Returns why a constraint is refused, or undefined. */
  constraint?: (c: string) => string | undefined;
}

const labelName = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$/;
const labelPrefix = new RegExp(dnsSubdomain);
function labelKeyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length > 253 || !labelPrefix.test(prefix)))
    return 'prefix is not a DNS subdomain';
  if (name.length > 63 || !labelName.test(name)) return 'not a valid label key';
  return undefined;
}
const labelValueOk = (v: string) => v === '' || (v.length <= 63 && labelName.test(v));
const isKubernetes = (s: ResourceStrategy) => (kubernetesStrategies as readonly string[]).includes(s);

/**
 * Validates a VersionTracker document (parsed YAML/JSON) with `schemaProblems` and the checks below, and normalises it: `apiVersion` defaults to
 * opvic.skillz.com/v1alpha1, `resources.strategy` to Pods, `localVersion.strategy` to ImageTag
 * (Kubernetes strategies only), `FieldSelector` becomes `FieldSelection`, a provider with one
 * strategy gets it. Errors are `<field path>: <reason>`.
 */
export function parseTrackerDocument(
  doc: unknown,
  schemaProblems: (doc: object) => string[],
  checks: TrackerChecks = {},
): ParsedTracker {
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) {
    return { tracker: null, errors: ['(document): expected a VersionTracker object'] };
  }
  const errors = schemaProblems(doc);
  if (errors.length > 0) return { tracker: null, errors };
  const t = structuredClone(doc) as VersionTracker;
  t.apiVersion ??= versionTrackerApiVersions[0];
  const spec = t.spec;
  const res = spec.resources;
  res.strategy ??= 'Pods';
  const strategy = res.strategy;
  const bad = (path: string, why: string) => errors.push(`spec.${path}: ${why}`);

  if (isKubernetes(strategy)) {
    if (!res.selector) bad('resources.selector', `required for ${strategy}`);
    for (const f of ['command', 'path', 'package'] as const) {
      if (res[f] !== undefined) bad(`resources.${f}`, `applies to host strategies only, not ${strategy}`);
    }
    spec.localVersion ??= {};
    const local = spec.localVersion;
    if (local.strategy === 'FieldSelector' || local.strategy === undefined) {
      local.strategy = local.strategy === 'FieldSelector' ? 'FieldSelection' : 'ImageTag';
    }
    if (local.strategy === 'FieldSelection' && !local.fieldSelector) {
      bad('localVersion.fieldSelector', 'required with strategy FieldSelection');
    }
  } else {
    const needs = { Command: 'command', File: 'path', Package: 'package' } as const;
    const field = needs[strategy as keyof typeof needs];
    if (res[field] === undefined) bad(`resources.${field}`, `required for ${strategy}`);
    for (const f of Object.values(needs)) {
      if (f !== field && res[f] !== undefined) bad(`resources.${f}`, `does not apply to ${strategy}`);
    }
    if (res.path !== undefined && !/^(\/|[A-Za-z]:[\\/])/.test(res.path)) {
      bad('resources.path', 'must be an absolute path');
    }
    for (const f of ['selector', 'namespaces'] as const) {
      if (res[f] !== undefined) bad(`resources.${f}`, `applies to Kubernetes strategies only, not ${strategy}`);
    }
    if (spec.localVersion?.strategy !== undefined) {
      bad('localVersion.strategy', `does not apply to ${strategy} (only extraction does)`);
    }
    if (spec.localVersion?.fieldSelector !== undefined) {
      bad('localVersion.fieldSelector', `does not apply to ${strategy}`);
    }
  }
  checkSelector(res.selector, bad);
  checkRemote(spec.remoteVersion, bad);

  const extractions: [string, DriftExtraction | undefined][] = [
    ['localVersion.extraction.regex', spec.localVersion?.extraction],
    ['remoteVersion.extraction.regex', spec.remoteVersion?.extraction],
  ];
  for (const [path, e] of extractions) {
    const why = e && checks.extraction?.(e);
    if (why) bad(path, why);
  }
  const constraint = spec.remoteVersion?.constraint;
  const why = constraint && checks.constraint?.(constraint);
  if (why) bad('remoteVersion.constraint', why);
  return errors.length > 0 ? { tracker: null, errors } : { tracker: t, errors: [] };
}

function checkSelector(sel: LabelSelector | undefined, bad: (path: string, why: string) => void): void {
  for (const [k, v] of Object.entries(sel?.matchLabels ?? {})) {
    const keyWhy = labelKeyProblem(k);
    if (keyWhy) bad(`resources.selector.matchLabels[${JSON.stringify(k)}]`, keyWhy);
    else if (!labelValueOk(v)) bad(`resources.selector.matchLabels[${JSON.stringify(k)}]`, 'not a valid label value');
  }
  for (const [i, r] of (sel?.matchExpressions ?? []).entries()) {
    const at = `resources.selector.matchExpressions[${i}]`;
    const keyWhy = labelKeyProblem(r.key);
    if (keyWhy) bad(`${at}.key`, keyWhy);
    const set = r.operator === 'In' || r.operator === 'NotIn';
    if (set && !r.values?.length) bad(`${at}.values`, `required (non-empty) with operator ${r.operator}`);
    if (!set && r.values?.length) bad(`${at}.values`, `must be empty with operator ${r.operator}`);
    for (const [j, v] of (r.values ?? []).entries()) {
      if (!labelValueOk(v)) bad(`${at}.values[${j}]`, 'not a valid label value');
    }
  }
}

function checkRemote(rv: TrackerRemoteVersion | undefined, bad: (path: string, why: string) => void): void {
  if (!rv) return;
  const allowed = providerStrategies[rv.provider];
  if (rv.strategy === undefined && allowed.length === 1) rv.strategy = allowed[0];
  if (rv.strategy === undefined && allowed.length > 1) {
    bad('remoteVersion.strategy', `required for ${rv.provider}: one of ${allowed.join(', ')}`);
  } else if (rv.strategy !== undefined && !allowed.includes(rv.strategy)) {
    bad(
      'remoteVersion.strategy',
      allowed.length ? `${rv.provider} accepts ${allowed.join(', ')}` : `${rv.provider} takes no strategy`,
    );
  }
  if (!rv.repo) {
    bad('remoteVersion.repo', `required for ${rv.provider}`);
  } else if (rv.provider === 'github' && !/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(rv.repo)) {
    bad('remoteVersion.repo', 'must be owner/name');
  } else if (rv.provider === 'helm' && !/^(https?|oci):\/\/[^\s]+$/.test(rv.repo)) {
    bad('remoteVersion.repo', 'must be an http(s):// or oci:// chart repository URL');
  }
  if (rv.provider === 'helm' && !rv.chart) bad('remoteVersion.chart', 'required for helm');
  if (rv.provider !== 'helm' && rv.chart) bad('remoteVersion.chart', 'applies to helm only');
}
