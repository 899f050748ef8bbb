// deploy/kubernetes/: the CRD is what the generator writes from the protocol schema, every manifest
// parses, the seed's examples pass both the CRD schema and parseTracker, and the RBAC and Deployment
// grant and run what the agent needs and nothing looser.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseTracker } from '@flotilla/protocol';
import { compileExtraction } from '@flotilla/protocol/drift-extraction';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { driftCrdYaml } from '../../../../scripts/generate-drift-crd.ts';
import { compileTracker } from './evaluate.ts';
import { KIND_RESOURCES } from './watch-kinds.ts';

// biome-ignore lint/suspicious/noExplicitAny: walking parsed YAML manifests
type Json = Record<string, any>;
const deploy = fileURLToPath(new URL('../../../../deploy/kubernetes/', import.meta.url));
const read = (file: string) => readFileSync(join(deploy, file), 'utf8');
function docs(file: string): Json[] {
  const parsed = parseAllDocuments(read(file));
  for (const doc of parsed) expect(doc.errors, file).toEqual([]);
  return parsed.map((d) => d.toJS() as Json).filter((d) => d !== null);
}
const crds = docs('crd.yaml');
const validators = new Map(
  crds.map((crd) => [
    crd.spec.group as string,
    new Ajv({ strict: false, allErrors: true }).compile(crd.spec.versions[0].schema.openAPIV3Schema),
  ]),
);
function crdErrors(tracker: Json): string[] {
  const validate = validators.get(String(tracker.apiVersion).split('/')[0] ?? '');
  if (!validate) return [`no CRD for ${tracker.apiVersion}`];
  return validate(tracker)
    ? []
    : (validate.errors ?? []).map((e: { instancePath: string; message?: string }) => `${e.instancePath} ${e.message}`);
}
const examples = readdirSync(join(deploy, 'examples'))
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((f) => docs(`examples/${f}`).map((doc) => [`${f}: ${doc.metadata.name}`, doc] as const));

describe('deploy/kubernetes', () => {
  it('crd.yaml is what scripts/generate-drift-crd.ts writes (run npm run generate:drift-crd)', () => {
    expect(read('crd.yaml')).toBe(driftCrdYaml());
  });

  it('defines VersionTracker in both API groups, with the status subresource and printer columns', () => {
    expect(crds.map((c) => [c.metadata.name, c.spec.scope, c.spec.names.kind])).toEqual([
      ['versiontrackers.opvic.skillz.com', 'Namespaced', 'VersionTracker'],
      ['versiontrackers.vt.skillz.com', 'Namespaced', 'VersionTracker'],
    ]);
    for (const crd of crds) {
      const version = crd.spec.versions[0];
      expect(version).toMatchObject({ name: 'v1alpha1', served: true, storage: true, subresources: { status: {} } });
      expect(version.additionalPrinterColumns.map((c: Json) => c.name)).toEqual([
        'Subject',
        'Kind',
        'Versions',
        'Resources',
        'Error',
        'Age',
      ]);
      const spec = version.schema.openAPIV3Schema.properties.spec;
      expect(spec.properties.resources.properties.strategy.enum).toEqual(Object.keys(KIND_RESOURCES));
      expect(spec.properties.localVersion.properties.strategy.enum).toEqual([
        'ImageTag',
        'FieldSelection',
        'FieldSelector',
      ]);
      expect(spec.properties.remoteVersion.properties.provider.enum).toContain('github');
      // A structural schema: every node typed, no additionalProperties: false next to properties.
      const walk = (node: Json, path: string) => {
        if (!node['x-kubernetes-preserve-unknown-fields']) expect(node.type, path).toBeTypeOf('string');
        expect(node.properties && node.additionalProperties !== undefined, path).toBeFalsy();
        for (const [k, v] of Object.entries(node.properties ?? {})) walk(v as Json, `${path}.${k}`);
        if (node.items) walk(node.items, `${path}[]`);
        if (typeof node.additionalProperties === 'object') walk(node.additionalProperties, `${path}{}`);
      };
      walk(version.schema.openAPIV3Schema, '');
    }
  });

  it.each(examples)("the seed's example %s passes the CRD schema, parseTracker and the agent's compiler", (_, doc) => {
    expect(crdErrors(doc)).toEqual([]);
    const extraction = (e: Parameters<typeof compileExtraction>[0]) => {
      try {
        compileExtraction(e);
      } catch (error) {
        return (error as Error).message;
      }
    };
    const parsed = parseTracker(doc, { extraction });
    expect(parsed.errors).toEqual([]);
    expect(() => compileTracker(parsed.tracker as NonNullable<typeof parsed.tracker>)).not.toThrow();
  });

  it('the CRD schema refuses what the enums and caps refuse', () => {
    const coredns = examples.find(([name]) => name.startsWith('coredns'))?.[1] as Json;
    const bad = (patch: (t: Json) => void) => {
      const t = structuredClone(coredns);
      patch(t);
      return crdErrors(t);
    };
    expect(bad((t) => (t.spec.resources.strategy = 'Secrets'))).toEqual([
      '/spec/resources/strategy must be equal to one of the allowed values',
    ]);
    expect(bad((t) => (t.spec.resources.strategy = 'Command'))).not.toEqual([]);
    expect(bad((t) => (t.spec.localVersion.strategy = 'Label'))).not.toEqual([]);
    expect(bad((t) => (t.spec.remoteVersion.provider = 'sourceforge'))).not.toEqual([]);
    expect(bad((t) => (t.spec.name = ''))).not.toEqual([]);
    expect(bad((t) => (t.spec.resources.selector.matchExpressions = [{ key: 'a', operator: 'Near' }]))).toHaveLength(1);
    expect(bad((t) => delete t.spec.resources.selector)).toEqual([
      "/spec/resources must have required property 'selector'",
    ]);
  });

  it('rbac.yaml: read the tracked kinds and trackers, write only the trackers’ status', () => {
    const objects = docs('rbac.yaml');
    const role = objects.find((o) => o.kind === 'ClusterRole') as Json;
    const can = (group: string, resource: string, verb: string) =>
      role.rules.some(
        (r: Json) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb),
      );
    for (const resource of Object.values(KIND_RESOURCES)) {
      const group = resource.apiPath === '/api/v1' ? '' : resource.apiPath.split('/')[2];
      for (const verb of ['get', 'list', 'watch']) expect(can(group ?? '', resource.plural, verb)).toBe(true);
      expect(can(group ?? '', resource.plural, 'update')).toBe(false);
    }
    for (const group of ['opvic.skillz.com', 'vt.skillz.com']) {
      for (const verb of ['get', 'list', 'watch']) expect(can(group, 'versiontrackers', verb)).toBe(true);
      expect(can(group, 'versiontrackers/status', 'update')).toBe(true);
      expect(can(group, 'versiontrackers', 'update')).toBe(false);
    }
    expect(role.rules.flatMap((r: Json) => r.verbs)).not.toContain('*');
    const binding = objects.find((o) => o.kind === 'ClusterRoleBinding') as Json;
    const account = objects.find((o) => o.kind === 'ServiceAccount') as Json;
    expect(binding.roleRef.name).toBe(role.metadata.name);
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: account.metadata.name, namespace: account.metadata.namespace },
    ]);
  });

  it('deployment.yaml: non-root, read-only root, resources, token from a Secret file', () => {
    const [deployment] = docs('deployment.yaml') as [Json];
    const pod = deployment.spec.template.spec;
    const [container] = pod.containers as [Json];
    const account = docs('rbac.yaml').find((o) => o.kind === 'ServiceAccount') as Json;
    expect(pod.serviceAccountName).toBe(account.metadata.name);
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(container.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(container.resources.requests).toBeDefined();
    expect(container.resources.limits.memory).toBeDefined();
    expect(container.args[0]).toBe('drift-agent');
    const tokenFile = (container.args as string[]).find((a) => a.startsWith('--token-file='))?.split('=')[1] ?? '';
    const mount = (container.volumeMounts as Json[]).find((m) => tokenFile.startsWith(`${m.mountPath}/`)) as Json;
    const volume = (pod.volumes as Json[]).find((v) => v.name === mount.name) as Json;
    expect(volume.secret.secretName).toBe('flotilla-drift-agent');
    expect(JSON.stringify(container.env ?? [])).not.toMatch(/TOKEN/);
  });
});
