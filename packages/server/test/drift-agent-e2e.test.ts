// The Kubernetes drift agent end to end: the agent (real client library) reads a local list/watch
// server and reports to a real Flotilla server with an agent token; the read API shows the cluster's
// subjects, a change, and a deleted tracker's subject removed (complete reports).
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { type FakeApiServer, pod, startFakeApiServer } from '../../agent/src/kubernetes/fake-api-server.test.helper.ts';
import { type RunningDriftAgent, runDriftAgent } from '../../agent/src/kubernetes/index.ts';
import { apiOf } from './support/api.ts';
import { describeEachStore } from './support/databases.ts';
import { startTestServer, type TestServer } from './support/server.ts';

describeEachStore(['sqlite'] as const)('drift-agent → server on %s', (kind) => {
  let server: TestServer;
  let api: FakeApiServer;
  let agent: RunningDriftAgent | undefined;
  const { ok } = apiOf(() => server.url);
  const within = { timeout: 10_000, interval: 50 };

  beforeAll(async () => {
    server = await startTestServer(kind);
    api = await startFakeApiServer();
  });
  afterAll(async () => {
    await agent?.stop(1000);
    await api?.close();
    await server?.stop();
  });

  it("reports the cluster's subjects, their changes and their removal", async () => {
    await ok('POST', '/api/v1/environments', { name: 'prod' }, 201);
    const token = (await ok('POST', '/api/v1/tokens', { kind: 'agent', name: 'k8s', environment: 'prod' }, 201))
      .token as string;
    for (const name of ['coredns-a', 'coredns-b']) {
      api.put('Pods', pod('kube-system', name, { 'k8s-app': 'kube-dns' }, ['registry.k8s.io/coredns/coredns:v1.11.1']));
    }
    api.putTracker('opvic.skillz.com', {
      metadata: { name: 'coredns', namespace: 'opvic' },
      spec: {
        name: 'coredns',
        resources: { namespaces: ['kube-system'], selector: { matchLabels: { 'k8s-app': 'kube-dns' } } },
        localVersion: { strategy: 'ImageTag' },
        remoteVersion: { provider: 'github', strategy: 'releases', repo: 'coredns/coredns' },
      },
    });
    api.putTracker('vt.skillz.com', {
      metadata: { name: 'broken', namespace: 'opvic' },
      spec: {
        name: 'broken',
        resources: { selector: { matchLabels: { app: 'x' } } },
        localVersion: { extraction: { regex: { pattern: '(' } } },
      },
    });
    agent = await runDriftAgent({
      server: server.url,
      token,
      identifier: 'eu-1',
      tags: { region: 'eu' },
      kubeconfig: api.kubeConfig(),
      reportDebounceMs: 50,
    });
    const items = async () =>
      (await ok('GET', '/api/v1/drift?place=eu-1')).items as {
        subject: string;
        environment: string;
        tags: Record<string, string>;
        versions: { runningVersion: string; resourceCount: number; image?: string }[];
        upstream: { repo?: string } | null;
        error: string | null;
      }[];
    await vi.waitFor(async () => expect((await items()).map((i) => i.subject)).toEqual(['broken', 'coredns']), within);
    const [broken, coredns] = await items();
    expect(coredns).toMatchObject({
      environment: 'prod',
      tags: { region: 'eu' },
      versions: [{ runningVersion: 'v1.11.1', resourceCount: 2, image: 'registry.k8s.io/coredns/coredns' }],
      upstream: { repo: 'coredns/coredns' },
      error: null,
    });
    expect(broken?.error).toMatch(/spec\.localVersion\.extraction\.regex: .*not valid RE2/);

    api.put(
      'Pods',
      pod('kube-system', 'coredns-b', { 'k8s-app': 'kube-dns' }, ['registry.k8s.io/coredns/coredns:v1.12.0']),
    );
    await vi.waitFor(async () => {
      const versions = (await items()).find((i) => i.subject === 'coredns')?.versions.map((v) => v.runningVersion);
      expect(versions?.sort()).toEqual(['v1.11.1', 'v1.12.0']);
    }, within);

    api.removeTracker('vt.skillz.com', 'opvic', 'broken');
    await vi.waitFor(async () => expect((await items()).map((i) => i.subject)).toEqual(['coredns']), within);
  });
});
