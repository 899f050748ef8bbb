// Writes deploy/kubernetes/crd.yaml: the VersionTracker CustomResourceDefinition in both API groups,
// its openAPIV3Schema generated from the protocol's TypeBox schema (so the enums and size caps the
// agent checks are the API server's too) and the status the agent writes.
//
//   node --conditions=@flotilla/source scripts/generate-drift-crd.ts        (npm run generate:drift-crd)
//
// A test (packages/agent/src/kubernetes/manifests.test.ts) fails when the committed file is out of date.
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { kubernetesStrategies, TrackerSpec, versionTrackerApiVersions } from '@flotilla/protocol';
import { stringify } from 'yaml';
import { TrackerStatusSchema } from '../packages/agent/src/kubernetes/tracker-status-schema.ts';

type Json = Record<string, unknown>;
const crdFile = new URL('../deploy/kubernetes/crd.yaml', import.meta.url);

/**
 * A JSON Schema (TypeBox) as a Kubernetes structural schema: every node typed, records as
 * additionalProperties, no `additionalProperties: false` (the API server prunes unknown fields),
 * unknown values kept with x-kubernetes-preserve-unknown-fields.
 */
export function structural(schema: Json): Json {
  const out: Json = {};
  if (typeof schema.description === 'string') out.description = schema.description;
  if (Array.isArray(schema.enum)) {
    out.type = typeof schema.enum[0] === 'number' ? 'number' : 'string';
    out.enum = [...schema.enum];
    return out;
  }
  switch (schema.type) {
    case 'object': {
      out.type = 'object';
      const properties = schema.properties as Record<string, Json> | undefined;
      const pattern = schema.patternProperties as Record<string, Json> | undefined;
      if (properties) {
        out.properties = Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, structural(v)]));
        const required = schema.required as string[] | undefined;
        if (required?.length) out.required = [...required];
      } else if (pattern) {
        out.additionalProperties = structural(Object.values(pattern)[0] as Json);
      }
      if (typeof schema.maxProperties === 'number') out.maxProperties = schema.maxProperties;
      return out;
    }
    case 'array':
      out.type = 'array';
      out.items = structural(schema.items as Json);
      for (const k of ['minItems', 'maxItems'] as const) if (typeof schema[k] === 'number') out[k] = schema[k];
      return out;
    case 'string':
    case 'integer':
    case 'number':
    case 'boolean':
      out.type = schema.type;
      for (const k of ['minLength', 'maxLength', 'pattern', 'minimum', 'maximum', 'format'] as const) {
        if (schema[k] !== undefined) out[k] = schema[k];
      }
      return out;
    default:
      return { ...out, 'x-kubernetes-preserve-unknown-fields': true };
  }
}

/** The tracker spec a cluster accepts: the Kubernetes strategies only (host trackers live on the server). */
function clusterSpec(): Json {
  const spec = structural(TrackerSpec as unknown as Json);
  const resources = (spec.properties as Record<string, Json>).resources as Json;
  const props = resources.properties as Record<string, Json>;
  props.strategy = { ...props.strategy, enum: [...kubernetesStrategies], default: 'Pods' };
  for (const host of ['command', 'path', 'package']) delete props[host];
  resources.required = ['selector'];
  return spec;
}

export function driftCrds(): Json[] {
  const groups = [...new Set(versionTrackerApiVersions.map((v) => v.split('/')[0] as string))].sort();
  return groups.map((group) => ({
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `versiontrackers.${group}`,
      labels: { 'app.kubernetes.io/part-of': 'flotilla' },
    },
    spec: {
      group,
      scope: 'Namespaced',
      names: {
        kind: 'VersionTracker',
        listKind: 'VersionTrackerList',
        plural: 'versiontrackers',
        singular: 'versiontracker',
      },
      versions: [
        {
          name: 'v1alpha1',
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'Subject', type: 'string', jsonPath: '.spec.name' },
            { name: 'Kind', type: 'string', jsonPath: '.spec.resources.strategy' },
            { name: 'Versions', type: 'string', jsonPath: '.status.uniqVersions' },
            { name: 'Resources', type: 'integer', jsonPath: '.status.totalResourceCount' },
            { name: 'Error', type: 'string', jsonPath: '.status.error' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: 'What runs where, and where its releases are (Opvic-compatible; docs/drift.md)',
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: clusterSpec(),
                status: structural(TrackerStatusSchema as unknown as Json),
              },
            },
          },
        },
      ],
    },
  }));
}

export function driftCrdYaml(): string {
  const header =
    '# Generated by scripts/generate-drift-crd.ts from the protocol schema: do not edit, run\n' +
    '# `npm run generate:drift-crd`. VersionTracker in both API groups Opvic uses.\n';
  return (
    header +
    driftCrds()
      .map((crd) => `---\n${stringify(crd, { lineWidth: 0 })}`)
      .join('')
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeFileSync(crdFile, driftCrdYaml());
  process.stdout.write(`wrote ${crdFile.pathname}\n`);
}
