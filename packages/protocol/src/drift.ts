import { type Static, type TSchema, Type } from 'typebox';
import { Value } from 'typebox/value';

import {
  dnsLabel,
  localVersionStrategies,
  remoteProviders,
  remoteStrategies,
  resourceStrategies,
  selectorOperators,
  versionTrackerApiVersions,
} from './drift-constants.ts';
import { type ParsedTracker, parseTrackerDocument, type TrackerChecks } from './drift-tracker.ts';

export type { ParsedTracker, TrackerChecks };

// The `VersionTracker` resource as Opvic accepts it (both API groups), with the enums and size caps
// Opvic's CRD lacks, plus the host strategies; and Opvic's agent → control-plane payload.

const strict = { additionalProperties: false } as const;
const Str = (minLength: number, maxLength: number, description?: string) =>
  Type.String({ minLength, maxLength, ...(description ? { description } : {}) });
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

/**
 * Validates a VersionTracker document (parsed YAML/JSON) and normalises it (see parseTrackerDocument);
 * errors are `<field path>: <reason>`.
 */
export function parseTracker(doc: unknown, checks: TrackerChecks = {}): ParsedTracker {
  return parseTrackerDocument(doc, (d) => driftSchemaProblems(VersionTracker, d), checks);
}
