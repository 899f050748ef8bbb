import { type Static, type TSchema, Type } from 'typebox';
import { Value } from 'typebox/value';

// The `VersionTracker` resource as Opvic accepts it (both API groups), with the enums and size caps
// Opvic's CRD lacks, plus the host strategies; and Opvic's agent → control-plane payload.

export const versionTrackerApiVersions = ['opvic.skillz.com/v1alpha1', 'vt.skillz.com/v1alpha1'] as const;
export const kubernetesStrategies = [
  'Pods',
  'Nodes',
  'Deployments',
  'DaemonSets',
  'StatefulSets',
  'ReplicaSets',
  'CronJobs',
  'Jobs',
] as const;
export const hostStrategies = ['Command', 'File', 'Package'] as const;
export const resourceStrategies = [...kubernetesStrategies, ...hostStrategies] as const;
export type ResourceStrategy = (typeof resourceStrategies)[number];
/** `FieldSelector` is the seed's spelling of `FieldSelection`; parseTracker normalises it. */
export const localVersionStrategies = ['ImageTag', 'FieldSelection', 'FieldSelector'] as const;
export const remoteProviders = ['github', 'helm', 'oci', 'npm', 'gitlab', 'endoflife'] as const;
export type RemoteProvider = (typeof remoteProviders)[number];
export const remoteStrategies = ['releases', 'tags', 'chartVersion', 'appVersion'] as const;
export type RemoteStrategy = (typeof remoteStrategies)[number];
export const selectorOperators = ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const;

/** Strategies each provider accepts; the first is the default when only one fits. */
export const providerStrategies: Record<RemoteProvider, readonly RemoteStrategy[]> = {
  github: ['releases', 'tags'],
  gitlab: ['releases', 'tags'],
  helm: ['chartVersion', 'appVersion'],
  oci: ['tags'],
  npm: [],
  endoflife: [],
};

const strict = { additionalProperties: false } as const;
const Str = (minLength: number, maxLength: number, description?: string) =>
  Type.String({ minLength, maxLength, ...(description ? { description } : {}) });
const dnsLabel = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
const dnsSubdomain = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
const StringMap = Type.Record(Type.String({ maxLength: 317 }), Type.String({ maxLength: 4096 }), {
  maxProperties: 64,
});

export const DriftExtraction = Type.Object(
  {
    regex: Type.Object(
      {
        pattern: Str(1, 1024, 'RE2 pattern (Go syntax) applied to the trimmed value'),
        // biome-ignore lint/suspicious/noTemplateCurlyInString: Go template syntax, not a JS template
        result: Type.Optional(Str(0, 256, 'Go Regexp.Expand template: $1, ${1}, ${name}; default $1')),
      },
      strict,
    ),
  },
  strict,
);
export type DriftExtraction = Static<typeof DriftExtraction>;

export const LabelSelectorRequirement = Type.Object(
  {
    key: Str(1, 317),
    operator: Type.Enum([...selectorOperators]),
    values: Type.Optional(Type.Array(Str(0, 63), { maxItems: 256 })),
  },
  strict,
);
export const LabelSelector = Type.Object(
  {
    matchLabels: Type.Optional(Type.Record(Type.String({ maxLength: 317 }), Str(0, 63), { maxProperties: 64 })),
    matchExpressions: Type.Optional(Type.Array(LabelSelectorRequirement, { maxItems: 64 })),
  },
  strict,
);
export type LabelSelector = Static<typeof LabelSelector>;

export const TrackerResources = Type.Object(
  {
    strategy: Type.Optional(Type.Enum([...resourceStrategies], { description: 'What to read; default Pods' })),
    namespaces: Type.Optional(Type.Array(Type.String({ pattern: dnsLabel, maxLength: 63 }), { maxItems: 256 })),
    selector: Type.Optional(LabelSelector),
    command: Type.Optional(
      Type.Array(Str(1, 4096), { minItems: 1, maxItems: 64, description: 'Command: argv, run without a shell' }),
    ),
    path: Type.Optional(Str(1, 4096, 'File: absolute path of the file to read')),
    package: Type.Optional(Str(1, 256, 'Package: installed dpkg/rpm package name')),
  },
  strict,
);
export type TrackerResources = Static<typeof TrackerResources>;

export const TrackerLocalVersion = Type.Object(
  {
    strategy: Type.Optional(Type.Enum([...localVersionStrategies], { description: 'Default ImageTag' })),
    fieldSelector: Type.Optional(Str(1, 1024, "kubectl JSONPath, e.g. '.metadata.labels.app\\.io/version'")),
    extraction: Type.Optional(DriftExtraction),
  },
  strict,
);
export type TrackerLocalVersion = Static<typeof TrackerLocalVersion>;

export const TrackerRemoteVersion = Type.Object(
  {
    provider: Type.Enum([...remoteProviders]),
    strategy: Type.Optional(Type.Enum([...remoteStrategies])),
    repo: Type.Optional(Str(1, 512, 'owner/name, chart repository URL, image or package name')),
    chart: Type.Optional(Str(0, 256)),
    extraction: Type.Optional(DriftExtraction),
    constraint: Type.Optional(Str(0, 256, 'hashicorp (~> 1.2, >= 1.1.0, comma = AND) or npm range (^1.2, ||)')),
  },
  strict,
);
export type TrackerRemoteVersion = Static<typeof TrackerRemoteVersion>;

export const TrackerSpec = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' }),
    resources: TrackerResources,
    localVersion: Type.Optional(TrackerLocalVersion),
    remoteVersion: Type.Optional(TrackerRemoteVersion),
  },
  strict,
);
export type TrackerSpec = Static<typeof TrackerSpec>;

export const VersionTracker = Type.Object(
  {
    apiVersion: Type.Optional(Type.Enum([...versionTrackerApiVersions], { description: 'Default opvic.skillz.com' })),
    kind: Type.Enum(['VersionTracker']),
    // Objects read from a cluster carry uid, resourceVersion, managedFields...: kept, not checked.
    metadata: Type.Object({
      // Kubernetes wants a lowercase DNS subdomain; the seed's own example says `myApp`, so case is free here.
      name: Type.String({ minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$' }),
      namespace: Type.Optional(Type.String({ maxLength: 63, pattern: dnsLabel })),
      labels: Type.Optional(StringMap),
      annotations: Type.Optional(Type.Record(Type.String({ maxLength: 317 }), Type.String(), { maxProperties: 256 })),
    }),
    spec: TrackerSpec,
    status: Type.Optional(Type.Unknown()),
  },
  strict,
);
export type VersionTracker = Static<typeof VersionTracker>;

const Int = (maximum: number) => Type.Integer({ minimum: 0, maximum });
const Nullable = <T extends Parameters<typeof Type.Optional>[0]>(t: T) => Type.Optional(Type.Union([t, Type.Null()]));

/** `remoteVersion` as an Opvic agent sends it: Go zero values (`""`) for unset fields. */
export const OpvicRemoteVersion = Type.Object({
  provider: Type.Optional(Str(0, 32)),
  strategy: Type.Optional(Str(0, 32)),
  repo: Type.Optional(Str(0, 512)),
  chart: Type.Optional(Str(0, 256)),
  extraction: Nullable(
    Type.Object({
      regex: Nullable(Type.Object({ pattern: Type.Optional(Str(0, 1024)), result: Type.Optional(Str(0, 256)) })),
    }),
  ),
  constraint: Type.Optional(Str(0, 256)),
});
export type OpvicRemoteVersion = Static<typeof OpvicRemoteVersion>;

export const OpvicRunningVersion = Type.Object({
  runningVersion: Str(0, 256),
  resourceCount: Int(1_000_000),
  resourceKind: Type.Optional(Str(0, 64)),
  extractedFrom: Type.Optional(Str(0, 1024)),
});
export type OpvicRunningVersion = Static<typeof OpvicRunningVersion>;

/** `POST /api/v1alpha1/agents`: one subject per request, as Opvic's agent sends it. */
export const OpvicAgentPayload = Type.Object({
  agentId: Type.String({ minLength: 1, maxLength: 253, pattern: '^[a-zA-Z0-9-]+$' }),
  agentTags: Nullable(Type.Record(Type.String({ maxLength: 63 }), Str(0, 256), { maxProperties: 64 })),
  version: Type.Object({
    id: Str(1, 253),
    namespace: Type.Optional(Str(0, 253)),
    count: Type.Optional(Int(10_000_000)),
    uniqVersions: Nullable(Type.Array(Str(0, 256), { maxItems: 1000 })),
    versions: Nullable(Type.Array(OpvicRunningVersion, { maxItems: 1000 })),
    remoteVersion: Nullable(OpvicRemoteVersion),
  }),
});
export type OpvicAgentPayload = Static<typeof OpvicAgentPayload>;

/** Schema errors as `<dotted.path>: <reason>` lines (shared with parseTracker). */
export function driftSchemaProblems(schema: TSchema, value: unknown): string[] {
  const out: string[] = [];
  for (const e of Value.Errors(schema, value) as SchemaError[]) {
    const line = describeError(e);
    if (line && !out.includes(line)) out.push(line);
  }
  return out;
}

interface SchemaError {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message: string;
}

/** `/spec/resources/namespaces/0` → `spec.resources.namespaces[0]`; odd keys are quoted. */
function dottedPath(pointer: string): string {
  const parts = pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  let out = '';
  for (const p of parts) {
    if (/^[0-9]+$/.test(p)) out += `[${p}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(p)) out += out ? `.${p}` : p;
    else out += `[${JSON.stringify(p)}]`;
  }
  return out || '(document)';
}

function describeError(e: SchemaError): string | undefined {
  const path = dottedPath(e.instancePath);
  switch (e.keyword) {
    case 'required': {
      const missing = (e.params.requiredProperties as string[] | undefined) ?? [];
      return missing.map((p) => `${dottedPath(`${e.instancePath}/${p}`)}: required`).join('; ');
    }
    case 'additionalProperties':
    case 'anyOf':
      return undefined; // unknown fields are reported one by one by `boolean`; unions by their members
    case 'boolean':
      return `${path}: unknown field`;
    case 'enum':
      return `${path}: must be one of ${(e.params.allowedValues as unknown[]).join(', ')}`;
    case 'type':
      return `${path}: expected ${String(e.params.type)}`;
    default:
      return `${path}: ${e.message}`;
  }
}

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
 * Validates a VersionTracker document (parsed YAML/JSON) and normalises it: `apiVersion` defaults to
 * opvic.skillz.com/v1alpha1, `resources.strategy` to Pods, `localVersion.strategy` to ImageTag
 * (Kubernetes strategies only), `FieldSelector` becomes `FieldSelection`, a provider with one
 * strategy gets it. Errors are `<field path>: <reason>`.
 */
export function parseTracker(doc: unknown, checks: TrackerChecks = {}): ParsedTracker {
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) {
    return { tracker: null, errors: ['(document): expected a VersionTracker object'] };
  }
  const errors = driftSchemaProblems(VersionTracker, doc);
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
