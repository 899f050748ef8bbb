// deploy/kubernetes/: every object is valid against the Kubernetes API schemas (kubernetes-models, no
// cluster needed) and names no field the API does not have; the server and agent workloads pass only
// real flags and env vars, probe paths the server answers, and run non-root with a read-only root.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { agentOptionTable, resolveAgentConfig } from '../../agent/src/runtime/config.ts';
import { resolveServerConfig } from '../../server/src/config/config.ts';
import { serverOptionTable } from '../../server/src/config/options.ts';
import { startTestServer, type TestServer } from '../../server/test/support/server.ts';

// biome-ignore lint/suspicious/noExplicitAny: walking parsed YAML manifests
type Json = Record<string, any>;
const root = fileURLToPath(new URL('../../../deploy/kubernetes/', import.meta.url));
const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
// Custom resources (the seed's VersionTracker examples), checked against the CRD by manifests.test.ts.
const customGroups = ['opvic.skillz.com', 'vt.skillz.com'];

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? yamlFiles(join(dir, e.name)) : e.name.endsWith('.yaml') ? [join(dir, e.name)] : [],
  );
}
const objects = yamlFiles(root).flatMap((file) =>
  parseAllDocuments(readFileSync(file, 'utf8'))
    .map((d) => d.toJS() as Json | null)
    .filter((d): d is Json => d !== null)
    .map((doc) => ({ file: relative(root, file), doc })),
);
const builtIn = objects.filter(({ doc }) => !customGroups.includes(String(doc.apiVersion).split('/')[0] ?? ''));

/** Fields the Kubernetes API does not know, from @kubernetes/client-node's generated models. */
function unknownFields(value: unknown, type: string, path: string): string[] {
  if (value === null || value === undefined || type === 'any' || type === 'object') return [];
  const array = /^Array<(.+)>$/.exec(type);
  if (array)
    return Array.isArray(value) ? value.flatMap((v, i) => unknownFields(v, array[1] ?? '', `${path}[${i}]`)) : [];
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) return Object.entries(value).flatMap(([key, v]) => unknownFields(v, map[1] ?? '', `${path}.${key}`));
  const model = (
    k8s as unknown as Record<string, { getAttributeTypeMap?: () => Array<{ baseName: string; type: string }> }>
  )[type];
  if (!model?.getAttributeTypeMap || typeof value !== 'object') return [];
  const attributes = model.getAttributeTypeMap();
  return Object.entries(value as Json).flatMap(([key, v]) => {
    const attribute = attributes.find((a) => a.baseName === key);
    return attribute ? unknownFields(v, attribute.type, `${path}.${key}`) : [`${path}.${key}`];
  });
}

async function schemaErrors(doc: Json): Promise<string | undefined> {
  const models = (await import(`kubernetes-models/${doc.apiVersion}`)) as Record<
    string,
    new (
      d: Json,
    ) => { validate(): void }
  >;
  const Model = models[doc.kind];
  if (!Model) return `no ${doc.kind} in ${doc.apiVersion}`;
  try {
    new Model(doc).validate();
  } catch (error) {
    return (error as Error).message;
  }
}

const find = (kind: string, name: string) =>
  objects.find(({ doc }) => doc.kind === kind && doc.metadata?.name === name)?.doc as Json;
const help = (command: string) =>
  execFileSync(process.execPath, ['--conditions=@flotilla/source', main, command, '--help'], { encoding: 'utf8' });
const flagsOf = (text: string) => new Set(text.match(/--[a-z][a-z-]+/g));
const envOf = (text: string) => new Set(text.match(/FLOTILLA_[A-Z_]+/g));

describe('deploy/kubernetes: the API schemas', () => {
  it('finds the server, the agent and the drift agent manifests', () => {
    const kinds = builtIn.map(({ doc }) => `${doc.kind}/${doc.metadata.name}`);
    for (const want of [
      'Deployment/flotilla-server',
      'Service/flotilla-server',
      'Secret/flotilla-server',
      'PersistentVolumeClaim/flotilla-data',
      'DaemonSet/flotilla-agent',
      'Secret/flotilla-agent',
      'ServiceAccount/flotilla-server',
      'ServiceAccount/flotilla-agent',
      'Deployment/flotilla-drift-agent',
      'ClusterRole/flotilla-drift-agent',
      'CustomResourceDefinition/versiontrackers.opvic.skillz.com',
    ]) {
      expect(kinds).toContain(want);
    }
    // Only the seed's tracker examples are custom resources.
    for (const { file } of objects.filter((o) => !builtIn.includes(o))) expect(file).toMatch(/^examples\//);
  });

  it.each(builtIn.map((o) => [`${o.file}: ${o.doc.kind}/${o.doc.metadata?.name}`, o.doc] as const))(
    '%s is valid and names only known fields',
    async (_, doc) => {
      expect(await schemaErrors(doc)).toBeUndefined();
      const version = String(doc.apiVersion).split('/').at(-1) ?? '';
      const type = `${version[0]?.toUpperCase()}${version.slice(1)}${doc.kind}`;
      expect(unknownFields(doc, type, doc.kind)).toEqual([]);
    },
  );

  it('the checks fail on a wrong type and on an unknown field', async () => {
    const deployment = structuredClone(find('Deployment', 'flotilla-server'));
    deployment.spec.replicas = 'one';
    expect(await schemaErrors(deployment)).toMatch(/replicas must be integer/);
    const container = structuredClone(find('Deployment', 'flotilla-server'));
    container.spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem = true;
    expect(unknownFields(container, 'V1Deployment', 'Deployment')).toEqual([
      'Deployment.spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem',
    ]);
  });
});

describe('deploy/kubernetes: the server and the agent', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer('sqlite');
  });
  afterAll(async () => {
    await server?.stop();
  });

  const deployment = find('Deployment', 'flotilla-server');
  const pod = deployment.spec.template.spec as Json;
  const [container] = pod.containers as [Json];
  const daemonSet = find('DaemonSet', 'flotilla-agent');
  const agentPod = daemonSet.spec.template.spec as Json;
  const [agent] = agentPod.containers as [Json];

  it('the server runs one replica, replaced by Recreate', () => {
    expect(deployment.spec.replicas).toBe(1);
    expect(deployment.spec.strategy.type).toBe('Recreate');
    expect(readFileSync(join(root, 'server/deployment.yaml'), 'utf8')).toMatch(/not supported yet/);
  });

  it('passes only flags and env vars that `flotilla server` and `flotilla agent` have', () => {
    for (const [c, command] of [
      [container, 'server'],
      [agent, 'agent'],
    ] as const) {
      const text = help(command);
      expect(c.args[0]).toBe(command);
      const flags = (c.args as string[]).slice(1).map((a) => a.split('=')[0]);
      for (const flag of flags) expect(flagsOf(text), `${command} ${flag}`).toContain(flag);
      const commented = readFileSync(
        join(root, command === 'server' ? 'server/deployment.yaml' : 'agent/daemonset.yaml'),
        'utf8',
      )
        .match(/# - (--[a-z-]+)/g)
        ?.map((m) => m.slice(4));
      for (const flag of commented ?? []) expect(flagsOf(text), `${command} ${flag}`).toContain(flag);
      for (const { name } of c.env as Json[]) {
        if (name.startsWith('FLOTILLA_')) expect(envOf(text), `${command} ${name}`).toContain(name);
      }
    }
  });

  /** A container's args and env as the option table's keys and the process env, as the pod would start. */
  function startup(c: Json, table: ReadonlyArray<{ key: string; flag: string }>, nodeName: string) {
    const flags: Record<string, string> = {};
    for (const arg of (c.args as string[]).slice(1)) {
      const [flag, value = ''] = arg.split('=');
      const option = table.find((o) => o.flag.split(' ')[0] === flag);
      if (option) flags[option.key] = value;
    }
    const env: Record<string, string> = {};
    for (const e of c.env as Json[]) {
      const ref = e.valueFrom?.secretKeyRef;
      if (ref) env[e.name] = find('Secret', ref.name).stringData[ref.key];
      else if (e.valueFrom?.fieldRef) env[e.name] = nodeName;
      else env[e.name] = String(e.value).replace(/\$\((\w+)\)/g, (_, v: string) => env[v] ?? '');
    }
    return { flags, env };
  }

  it('starts with a configuration the server and the agent accept', () => {
    const server = startup(container, serverOptionTable, 'node-1');
    const config = resolveServerConfig(server.flags, server.env, '/');
    expect(config).toMatchObject({ dataDir: '/var/lib/flotilla', port: 8314, checkinThreads: 2 });
    expect(config.database).toMatch(/^postgres:\/\//);
    const agentStart = startup(agent, agentOptionTable, 'node-1');
    expect(resolveAgentConfig(agentStart.flags, agentStart.env, '/')).toMatchObject({
      server: 'http://flotilla-server.flotilla.svc:8314',
      dir: '/var/lib/flotilla-agent',
      instanceId: 'node-1',
      labels: { node: 'node-1' },
      meshListen: null,
    });
    // The agent reaches the server through its Service, in the server's namespace.
    const service = find('Service', 'flotilla-server');
    expect(`http://${service.metadata.name}.${service.metadata.namespace}.svc:${service.spec.ports[0].port}`).toBe(
      resolveAgentConfig(agentStart.flags, agentStart.env, '/').server,
    );
  });

  it('probes paths the server answers, on the port it listens on', async () => {
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    expect(container.startupProbe.httpGet.path).toBe('/healthz');
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
      const res = await fetch(`${server.url}${container[probe].httpGet.path}`);
      expect(res.status, probe).toBe(200);
      const port = (container.ports as Json[]).find((p) => p.name === container[probe].httpGet.port);
      expect(`--port=${port?.containerPort}`).toBe((container.args as string[]).find((a) => a.startsWith('--port=')));
    }
    const service = find('Service', 'flotilla-server');
    expect(deployment.spec.template.metadata.labels).toMatchObject(service.spec.selector);
    expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels);
    expect((container.ports as Json[]).map((p) => p.name)).toContain(service.spec.ports[0].targetPort);
  });

  it('keeps the data dir on the claim and reads secrets from the example Secrets’ keys', () => {
    const dataDir = (container.args as string[]).find((a) => a.startsWith('--data-dir='))?.split('=')[1];
    const mount = (container.volumeMounts as Json[]).find((m) => m.mountPath === dataDir) as Json;
    const volume = (pod.volumes as Json[]).find((v) => v.name === mount.name) as Json;
    expect(volume.persistentVolumeClaim.claimName).toBe(find('PersistentVolumeClaim', 'flotilla-data').metadata.name);
    for (const c of [container, agent]) {
      for (const { valueFrom } of c.env as Json[]) {
        const ref = valueFrom?.secretKeyRef;
        if (ref) expect(Object.keys(find('Secret', ref.name).stringData)).toContain(ref.key);
      }
    }
    expect(JSON.stringify(agent.env)).toMatch(/"name":"FLOTILLA_AGENT_TOKEN","valueFrom":\{"secretKeyRef"/);
    // The examples hold placeholders only.
    for (const name of ['flotilla-server', 'flotilla-agent']) {
      for (const value of Object.values(find('Secret', name).stringData)) expect(value).toMatch(/CHANGE-ME/);
    }
  });

  it('runs both non-root, read-only root, no capabilities, no API token', () => {
    for (const [p, c] of [
      [pod, container],
      [agentPod, agent],
    ] as const) {
      expect(p.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      expect(p.securityContext.runAsUser).toBeGreaterThan(0);
      expect(c.securityContext).toMatchObject({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      });
      expect(c.resources.requests.memory).toBeDefined();
      expect(c.resources.limits.memory).toBeDefined();
      expect(p.automountServiceAccountToken).toBe(false);
      expect(find('ServiceAccount', p.serviceAccountName).automountServiceAccountToken).toBe(false);
    }
    // No role is bound to either account.
    const bound = objects
      .filter(({ doc }) => doc.kind === 'RoleBinding' || doc.kind === 'ClusterRoleBinding')
      .flatMap(({ doc }) => (doc.subjects as Json[]).map((s) => s.name));
    expect(bound).not.toContain('flotilla-server');
    expect(bound).not.toContain('flotilla-agent');
  });
});
