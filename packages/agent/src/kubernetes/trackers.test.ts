// The drift agent's tracker evaluation against the local list/watch server: the seed's three
// examples, every strategy, namespaces, selectors, images, field paths, bad trackers, status writes.
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DriftSubjectReport } from '@flotilla/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseAllDocuments } from 'yaml';
import {
  type ApiObject,
  type FakeApiServer,
  pod,
  startFakeApiServer,
  type TrackerGroup,
  workload,
} from './fake-api-server.test.helper.ts';
import { TRACKED_KINDS } from './image-ref.ts';
import type { KubernetesObject } from './kube-client.ts';
import { type DriftAgent, type DriftAgentOptions, startDriftAgent } from './trackers.ts';

let api: FakeApiServer;
let agents: DriftAgent[] = [];
beforeEach(async () => {
  api = await startFakeApiServer();
});
afterEach(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  agents = [];
  await api.close();
});

const within = { timeout: 3000, interval: 20 };

async function start(options: Partial<DriftAgentOptions> = {}) {
  const seen: DriftSubjectReport[][] = [];
  const logs: string[] = [];
  const agent = await startDriftAgent({
    kubeConfig: api.kubeConfig(),
    onSubjects: (subjects) => seen.push(subjects),
    log: (level, message) => logs.push(`${level} ${message}`),
    debounceMs: 20,
    ...options,
  });
  agents.push(agent);
  await agent.ready;
  return { agent, seen, logs, last: () => seen.at(-1) ?? [] };
}

function tracker(name: string, spec: Record<string, unknown>, namespace = 'opvic'): ApiObject {
  return { metadata: { name, namespace }, spec: { name, ...spec } };
}
const bySubject = (subjects: DriftSubjectReport[], subject: string) => subjects.find((s) => s.subject === subject);
const statusOf = (group: TrackerGroup, name: string, namespace = 'opvic') =>
  api.tracker(group, namespace, name)?.status as Record<string, unknown> | undefined;

// The seed's examples as deploy/kubernetes/examples ships them, applied in the seed's namespace.
type Tracker = ApiObject & { spec: { remoteVersion?: unknown } };
const examples = (file: string): Tracker[] =>
  parseAllDocuments(readFileSync(new URL(`../../../../deploy/kubernetes/examples/${file}`, import.meta.url), 'utf8'))
    .map((doc) => doc.toJS() as Tracker)
    .map((t) => ({ ...t, metadata: { ...t.metadata, namespace: 'opvic' } }));
const [coredns] = examples('coredns.yaml') as [Tracker];
const [kubelet] = examples('kubernetes.yaml') as [Tracker];
const [artifactory, artifactoryHelm] = examples('artifactory.yaml') as [Tracker, Tracker];

describe('drift agent trackers', () => {
  it("evaluates the seed's CoreDNS, kubelet and Artifactory examples and writes Opvic's status", async () => {
    for (const name of ['coredns-a', 'coredns-b']) {
      api.put('Pods', pod('kube-system', name, { 'k8s-app': 'kube-dns' }, ['k8s.gcr.io/coredns:1.7.0']));
    }
    api.put('Pods', pod('other', 'coredns-elsewhere', { 'k8s-app': 'kube-dns' }, ['k8s.gcr.io/coredns:1.6.0']));
    for (const [name, version] of [
      ['node-1', 'v1.27.3'],
      ['node-2', 'v1.27.3'],
      ['node-3', 'v1.28.1-eks-1'],
    ] as const) {
      api.put('Nodes', workload('Nodes', undefined, name, { 'kubernetes.io/hostname': name }, version));
    }
    api.put('Nodes', workload('Nodes', undefined, 'unlabelled', {}, 'v1.20.0'));
    const art = pod('artifactory', 'artifactory-0', { component: 'artifactory', chart: 'artifactory-107.55.10' }, [
      'releases-docker.jfrog.io/jfrog/artifactory-pro:7.55.10',
    ]);
    api.put('Pods', art);
    api.putTracker('opvic.skillz.com', coredns);
    api.putTracker('vt.skillz.com', kubelet);
    api.putTracker('opvic.skillz.com', artifactory);
    api.putTracker('opvic.skillz.com', artifactoryHelm);

    const { last } = await start();
    expect(bySubject(last(), 'coredns')).toEqual({
      subject: 'coredns',
      namespace: 'opvic',
      versions: [
        {
          runningVersion: '1.7.0',
          resourceCount: 2,
          resourceKind: 'Pods',
          extractedFrom: 'k8s.gcr.io/coredns:1.7.0',
          image: 'k8s.gcr.io/coredns',
        },
      ],
      upstream: coredns.spec.remoteVersion,
      error: null,
    });
    expect(bySubject(last(), 'kubernetes')?.versions).toEqual([
      { runningVersion: '1.27.3', resourceCount: 2, resourceKind: 'Nodes', extractedFrom: 'v1.27.3' },
      { runningVersion: '1.28.1', resourceCount: 1, resourceKind: 'Nodes', extractedFrom: 'v1.28.1-eks-1' },
    ]);
    expect(bySubject(last(), 'artifactory')?.versions.map((v) => [v.runningVersion, v.image])).toEqual([
      ['7.55.10', 'releases-docker.jfrog.io/jfrog/artifactory-pro'],
    ]);
    expect(bySubject(last(), 'artifactory-helm-chart')?.versions.map((v) => v.runningVersion)).toEqual(['107.55.10']);

    await vi.waitFor(() => expect(statusOf('opvic.skillz.com', 'coredns')).toBeDefined(), within);
    expect(statusOf('opvic.skillz.com', 'coredns')).toEqual({
      id: 'coredns',
      namespace: 'opvic',
      totalResourceCount: 2,
      uniqVersions: ['1.7.0'],
      versions: [
        { version: '1.7.0', resourceCount: 2, resourceKind: 'Pods', extractedFrom: 'k8s.gcr.io/coredns:1.7.0' },
      ],
      localVersion: { strategy: 'ImageTag' },
      remoteVersion: coredns.spec.remoteVersion,
      observedGeneration: 1,
    });
    await vi.waitFor(() => expect(statusOf('vt.skillz.com', 'kubernetes')?.uniqVersions).toEqual(['1.27.3', '1.28.1']));
    // Status is written through the subresource, once per tracker, and not again when nothing changed.
    await sleep(300);
    const writes = api.statusWrites.length;
    expect(writes).toBe(4);
    expect(api.statusWrites.every((w) => w.method === 'PUT')).toBe(true);
    api.put('Pods', pod('kube-system', 'unrelated', { app: 'x' }, ['busybox:1']));
    await sleep(300);
    expect(api.statusWrites.length).toBe(writes);
  });

  it('a status write refused with 409 re-reads the tracker and writes once more', async () => {
    api.put('Pods', pod('web', 'p', { app: 'web' }, ['nginx:1.25.3']));
    api.putTracker('opvic.skillz.com', tracker('web', { resources: { selector: { matchLabels: { app: 'web' } } } }));
    api.failStatusWrites(409, 1);
    const { logs } = await start();
    await vi.waitFor(() => expect(statusOf('opvic.skillz.com', 'web')?.uniqVersions).toEqual(['1.25.3']), within);
    const reads = api.requests.filter(
      (r) => r.path === '/apis/opvic.skillz.com/v1alpha1/namespaces/opvic/versiontrackers/web',
    );
    expect(reads).toHaveLength(1);
    expect(api.statusWrites).toHaveLength(2);
    expect(logs.filter((l) => l.startsWith('warn'))).toEqual([]);
  });

  it('reads the image of every workload kind, and the pod template', async () => {
    const kinds = TRACKED_KINDS.filter((k) => k !== 'Nodes');
    for (const [i, kind] of kinds.entries()) {
      api.put(kind, workload(kind, 'apps', `w-${kind.toLowerCase()}`, { app: 'w' }, `ghcr.io/acme/w:1.${i}.0`));
      api.putTracker(
        'opvic.skillz.com',
        tracker(`w-${kind.toLowerCase()}`, { resources: { strategy: kind, selector: { matchLabels: { app: 'w' } } } }),
      );
    }
    const { last } = await start();
    for (const [i, kind] of kinds.entries()) {
      expect(bySubject(last(), `w-${kind.toLowerCase()}`)?.versions).toEqual([
        {
          runningVersion: `1.${i}.0`,
          resourceCount: 1,
          resourceKind: kind,
          extractedFrom: `ghcr.io/acme/w:1.${i}.0`,
          image: 'ghcr.io/acme/w',
        },
      ]);
    }
  });

  it('applies namespaces and matchLabels / matchExpressions (In, NotIn, Exists, DoesNotExist)', async () => {
    api.put('Pods', pod('a', 'p1', { app: 'web', tier: 'front' }, ['web:1.0.0']));
    api.put('Pods', pod('b', 'p2', { app: 'web', tier: 'back' }, ['web:2.0.0']));
    api.put('Pods', pod('c', 'p3', { app: 'web', tier: 'front', legacy: 'yes' }, ['web:3.0.0']));
    api.put('Pods', pod('a', 'p4', { app: 'api', tier: 'front' }, ['web:4.0.0']));
    api.putTracker(
      'opvic.skillz.com',
      tracker('in-ab', { resources: { namespaces: ['a', 'b'], selector: { matchLabels: { app: 'web' } } } }),
    );
    api.putTracker(
      'opvic.skillz.com',
      tracker('exprs', {
        resources: {
          selector: {
            matchExpressions: [
              { key: 'app', operator: 'In', values: ['web', 'api'] },
              { key: 'tier', operator: 'NotIn', values: ['back'] },
              { key: 'tier', operator: 'Exists' },
              { key: 'legacy', operator: 'DoesNotExist' },
            ],
          },
        },
      }),
    );
    const { last } = await start();
    const versions = (s: string) => bySubject(last(), s)?.versions.map((v) => v.runningVersion);
    expect(versions('in-ab')).toEqual(['1.0.0', '2.0.0']);
    expect(versions('exprs')).toEqual(['1.0.0', '4.0.0']);
    // One list and watch per namespace for the first, one cluster-wide for the second.
    const podLists = api.requests.filter((r) => r.path.endsWith('/pods') && r.query.get('watch') === null);
    expect(podLists.map((r) => r.path).sort()).toEqual([
      '/api/v1/namespaces/a/pods',
      '/api/v1/namespaces/b/pods',
      '/api/v1/pods',
    ]);
  });

  it('shares one watch between trackers of the same kind, namespaces and selector', async () => {
    api.put('Pods', pod('web', 'p', { app: 'web' }, ['nginx:1.25.3']));
    const resources = { namespaces: ['web'], selector: { matchLabels: { app: 'web' } } };
    api.putTracker('opvic.skillz.com', tracker('one', { resources }));
    api.putTracker('opvic.skillz.com', tracker('two', { resources: { ...resources, namespaces: ['web', 'web'] } }));
    const { last } = await start();
    expect(last().map((s) => s.subject)).toEqual(['one', 'two']);
    const podLists = api.requests.filter((r) => r.path.endsWith('/pods') && r.query.get('watch') === null);
    expect(podLists).toHaveLength(1);
  });

  it('reads init containers and containers; untagged is latest, digest-only is skipped with a note', async () => {
    api.put(
      'Pods',
      pod(
        'web',
        'p',
        { app: 'web' },
        ['nginx', `registry.local:5000/team/app:2.1.0@sha256:${'a'.repeat(64)}`],
        ['busybox:1.36'],
      ),
    );
    api.put('Pods', pod('web', 'q', { app: 'web' }, [`ghcr.io/acme/app@sha256:${'b'.repeat(64)}`]));
    api.putTracker('opvic.skillz.com', tracker('images', { resources: { selector: { matchLabels: { app: 'web' } } } }));
    api.putTracker(
      'opvic.skillz.com',
      tracker('pinned', {
        resources: { selector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['web'] }] } },
      }),
    );
    const { last } = await start();
    expect(bySubject(last(), 'images')?.versions.map((v) => [v.runningVersion, v.image, v.resourceCount])).toEqual([
      ['1.36', 'docker.io/library/busybox', 1],
      ['2.1.0', 'registry.local:5000/team/app', 1],
      ['latest', 'docker.io/library/nginx', 1],
    ]);
    await vi.waitFor(() =>
      expect(statusOf('opvic.skillz.com', 'images')?.note).toBe(
        '1 image(s) pinned by digest only (no tag to read a version from)',
      ),
    );
    expect(statusOf('opvic.skillz.com', 'images')?.totalResourceCount).toBe(1);
  });

  it('reads kubectl JSONPath forms: escaped dots, braces, [n], [*], quoted keys; extraction with named groups', async () => {
    const p = pod('web', 'p', { 'app.kubernetes.io/version': 'v2.3.4', app: 'web' }, ['a:1', 'b:2']);
    api.put('Pods', p);
    const selector = { matchLabels: { app: 'web' } };
    const field = (name: string, fieldSelector: string, extraction?: unknown) =>
      api.putTracker(
        'opvic.skillz.com',
        tracker(name, {
          resources: { selector },
          localVersion: { strategy: 'FieldSelection', fieldSelector, ...(extraction ? { extraction } : {}) },
        }),
      );
    field('escaped', '.metadata.labels.app\\.kubernetes\\.io/version');
    field('braces', "{.metadata.labels['app.kubernetes.io/version']}", {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Go's Regexp.Expand template, not JavaScript's
      regex: { pattern: '^v(?P<v>[0-9.]+)$', result: '${v}' },
    });
    field('index', '{.spec.containers[1].image}');
    field('all', '.spec.containers[*].image', { regex: { pattern: ':(.*)$' } });
    field('missing', '.metadata.labels.nothere');
    const { last } = await start();
    const versions = (s: string) => bySubject(last(), s)?.versions.map((v) => v.runningVersion);
    expect(versions('escaped')).toEqual(['v2.3.4']);
    expect(versions('braces')).toEqual(['2.3.4']);
    expect(versions('index')).toEqual(['b:2']);
    expect(versions('all')).toEqual(['1', '2']);
    expect(bySubject(last(), 'all')?.versions[0]?.extractedFrom).toBe('a:1');
    expect(versions('missing')).toEqual([]);
  });

  it('puts a bad tracker’s error on its status and in the report; the others keep working', async () => {
    api.put('Pods', pod('web', 'p', { app: 'web' }, ['nginx:1.25.3']));
    const selector = { matchLabels: { app: 'web' } };
    api.putTracker('opvic.skillz.com', tracker('good', { resources: { selector } }));
    api.putTracker(
      'opvic.skillz.com',
      tracker('bad-regex', { resources: { selector }, localVersion: { extraction: { regex: { pattern: '(' } } } }),
    );
    api.putTracker(
      'opvic.skillz.com',
      tracker('bad-path', {
        resources: { selector },
        localVersion: { strategy: 'FieldSelection', fieldSelector: '.items[?(@.a=="b")].x' },
      }),
    );
    api.putTracker('opvic.skillz.com', tracker('bad-enum', { resources: { strategy: 'Secrets', selector } }));
    api.putTracker(
      'opvic.skillz.com',
      tracker('bad-constraint', {
        resources: { selector },
        remoteVersion: { provider: 'github', strategy: 'releases', repo: 'nginx/nginx', constraint: '>= banana' },
      }),
    );
    api.putTracker('vt.skillz.com', tracker('dup', { resources: { selector } }, 'a'));
    api.putTracker('vt.skillz.com', {
      ...tracker('dup2', { resources: { selector } }, 'b'),
      spec: { name: 'dup', resources: { selector } },
    });
    const { last } = await start();
    expect(bySubject(last(), 'good')?.versions.map((v) => v.runningVersion)).toEqual(['1.25.3']);
    expect(bySubject(last(), 'bad-regex')?.error).toMatch(/^spec\.localVersion\.extraction\.regex: .*not valid RE2/);
    expect(bySubject(last(), 'bad-path')?.error).toMatch(
      /^spec\.localVersion\.fieldSelector: invalid JSONPath .*not supported/,
    );
    expect(bySubject(last(), 'bad-enum')?.error).toBe(
      'spec.resources.strategy: must be one of Pods, Nodes, Deployments, DaemonSets, StatefulSets, ReplicaSets, CronJobs, Jobs, Command, File, Package',
    );
    expect(bySubject(last(), 'bad-constraint')?.error).toMatch(/^spec\.remoteVersion\.constraint: .*banana/);
    expect(last().filter((s) => s.subject === 'dup')).toHaveLength(1);
    await vi.waitFor(() => {
      expect(statusOf('opvic.skillz.com', 'bad-constraint')?.error).toMatch(/remoteVersion\.constraint/);
      expect(statusOf('opvic.skillz.com', 'bad-regex')?.error).toMatch(/not valid RE2/);
      expect(statusOf('opvic.skillz.com', 'bad-enum')?.error).toMatch(/spec\.resources\.strategy/);
      expect(statusOf('vt.skillz.com', 'dup2', 'b')?.error).toBe(
        'spec.name: dup is already tracked by vt.skillz.com/a/dup',
      );
      expect(statusOf('opvic.skillz.com', 'good')?.uniqVersions).toEqual(['1.25.3']);
    }, within);
    // Fixing the tracker clears its error.
    api.putTracker('opvic.skillz.com', tracker('bad-regex', { resources: { selector } }));
    await vi.waitFor(() => {
      expect(statusOf('opvic.skillz.com', 'bad-regex')?.error).toBeUndefined();
      expect(statusOf('opvic.skillz.com', 'bad-regex')?.uniqVersions).toEqual(['1.25.3']);
    }, within);
  });

  it('reports a watched change within 2 s, and trackers added and removed', async () => {
    api.put('Pods', pod('web', 'p', { app: 'web' }, ['nginx:1.25.3']));
    api.putTracker('opvic.skillz.com', tracker('web', { resources: { selector: { matchLabels: { app: 'web' } } } }));
    const { seen, last } = await start();
    const before = seen.length;
    const t0 = Date.now();
    api.put('Pods', pod('web', 'p', { app: 'web' }, ['nginx:1.27.0']));
    await vi.waitFor(() => expect(bySubject(last(), 'web')?.versions[0]?.runningVersion).toBe('1.27.0'), within);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(seen.length).toBe(before + 1);

    api.putTracker('vt.skillz.com', tracker('more', { resources: { selector: { matchLabels: { app: 'web' } } } }));
    await vi.waitFor(() => expect(last().map((s) => s.subject)).toEqual(['more', 'web']), within);
    api.removeTracker('opvic.skillz.com', 'opvic', 'web');
    await vi.waitFor(() => expect(last().map((s) => s.subject)).toEqual(['more']), within);
  });

  it('re-lists after 410 Gone and reports what changed meanwhile', async () => {
    api.put('Pods', pod('web', 'p', { app: 'web' }, ['nginx:1.25.3']));
    api.putTracker('opvic.skillz.com', tracker('web', { resources: { selector: { matchLabels: { app: 'web' } } } }));
    const { last } = await start();
    await vi.waitFor(() => expect(api.openWatches).toBe(3), within);
    const release = api.holdWatches();
    api.closeWatches();
    api.put('Pods', pod('web', 'p', { app: 'web' }, ['nginx:1.26.0']));
    api.put('Pods', pod('web', 'q', { app: 'web' }, ['nginx:1.26.0']));
    api.expireHistory();
    await sleep(100);
    release();
    await vi.waitFor(
      () => expect(bySubject(last(), 'web')?.versions).toMatchObject([{ runningVersion: '1.26.0', resourceCount: 2 }]),
      { ...within, timeout: 5000 },
    );
    const podLists = api.requests.filter((r) => r.path === '/api/v1/pods' && r.query.get('watch') === null);
    expect(podLists).toHaveLength(2);
  });

  it('reports an unlistable kind on the tracker until it lists; a missing CRD group does not block the other', async () => {
    const { last, logs } = await start({ groups: ['opvic.skillz.com', 'example.com'] });
    expect(logs.some((l) => l.includes('VersionTrackers of example.com: HTTP 404'))).toBe(true);
    api.failLists(403, 1);
    api.putTracker('opvic.skillz.com', tracker('web', { resources: { selector: { matchLabels: { app: 'web' } } } }));
    await vi.waitFor(
      () => expect(bySubject(last(), 'web')?.error).toBe('cannot list Pods: HTTP 403: injected failure'),
      within,
    );
    await vi.waitFor(() => expect(statusOf('opvic.skillz.com', 'web')?.error).toMatch(/cannot list Pods/), within);
    // The retry (after 1 s) lists, and the error goes away.
    await vi.waitFor(() => expect(bySubject(last(), 'web')?.error).toBeNull(), { ...within, timeout: 5000 });
    await vi.waitFor(() => expect(statusOf('opvic.skillz.com', 'web')?.error).toBeUndefined(), within);
  });

  it('stop() closes every watch', async () => {
    api.putTracker('opvic.skillz.com', tracker('web', { resources: { selector: { matchLabels: { app: 'web' } } } }));
    const { agent } = await start();
    await vi.waitFor(() => expect(api.openWatches).toBe(3), within);
    await agent.stop();
    await vi.waitFor(() => expect(api.openWatches).toBe(0), within);
    const count = api.requests.length;
    await sleep(300);
    expect(api.requests.length).toBe(count);
  });
});

describe('projector', () => {
  it('keeps only the images for ImageTag, in the shape imagesOf reads, and only the selected values for FieldSelection', async () => {
    const { compileTracker, projector } = await import('./evaluate.ts');
    const { imagesOf } = await import('./image-ref.ts');
    const cron = {
      ...workload('CronJobs', 'apps', 'nightly', { app: 'n' }, 'ghcr.io/acme/job:2.0.0'),
      metadata: { name: 'nightly', namespace: 'apps', uid: 'u1', resourceVersion: '7', managedFields: [] },
    } as unknown as KubernetesObject & { spec: unknown };
    const small = projector('CronJobs')(cron);
    expect(small).toEqual({
      metadata: { name: 'nightly', namespace: 'apps', resourceVersion: '7' },
      spec: {
        jobTemplate: {
          spec: { template: { spec: { containers: [{ name: 'main', image: 'ghcr.io/acme/job:2.0.0' }] } } },
        },
      },
    });
    expect(imagesOf(small, 'CronJobs')).toEqual(imagesOf(cron, 'CronJobs'));
    const p = pod('web', 'p', { app: 'web' }, ['a:1'], ['b:2']) as unknown as KubernetesObject;
    expect(imagesOf(projector('Pods')(p), 'Pods')).toEqual(imagesOf(p, 'Pods'));

    const byField = compileTracker({
      apiVersion: 'opvic.skillz.com/v1alpha1',
      kind: 'VersionTracker',
      metadata: { name: 't' },
      spec: {
        name: 't',
        resources: { strategy: 'Pods', selector: {} },
        localVersion: { strategy: 'FieldSelection', fieldSelector: '.spec.containers[*]' },
      },
    });
    const kept = byField.transform(cron);
    expect(kept).toEqual({ metadata: small.metadata, flotillaFieldValues: [] });
    expect(byField.transform(p)).toMatchObject({ flotillaFieldValues: [{}] });
    expect(byField.evaluate([byField.transform(p)])).toEqual({
      versions: [],
      resourceCount: 0,
      note: '1 value(s) selected an object or a list, not a string',
    });
  });
});

describe('fake API server: status subresource', () => {
  it('merges a JSON merge PATCH, refuses a stale PUT with 409, and echoes both to watchers', async () => {
    api.putTracker('opvic.skillz.com', tracker('web', { resources: { selector: {} } }));
    const path = `${api.url}/apis/opvic.skillz.com/v1alpha1/namespaces/opvic/versiontrackers/web/status`;
    const headers = { authorization: 'Bearer fake-cluster-token' };
    const patch = await fetch(path, {
      method: 'PATCH',
      headers: { ...headers, 'content-type': 'application/merge-patch+json' },
      body: JSON.stringify({ status: { id: 'web', error: 'x' } }),
    });
    expect(patch.status).toBe(200);
    const cleared = await fetch(path, {
      method: 'PATCH',
      headers: { ...headers, 'content-type': 'application/merge-patch+json' },
      body: JSON.stringify({ status: { error: null } }),
    });
    expect(cleared.status).toBe(200);
    expect(statusOf('opvic.skillz.com', 'web')).toEqual({ id: 'web' });
    const stale = await fetch(path, {
      method: 'PUT',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ metadata: { resourceVersion: '1' }, status: { id: 'other' } }),
    });
    expect(stale.status).toBe(409);
    const jsonPatch = await fetch(path, {
      method: 'PATCH',
      headers: { ...headers, 'content-type': 'application/json-patch+json' },
      body: '[]',
    });
    expect(jsonPatch.status).toBe(415);
    expect(api.statusWrites.map((w) => w.method)).toEqual(['PATCH', 'PATCH', 'PUT', 'PATCH']);
  });
});
