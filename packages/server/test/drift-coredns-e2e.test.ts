// The seed's CoreDNS example end to end, as docs/drift.md walks through it: the unchanged tracker
// (deploy/kubernetes/examples/coredns.yaml), a CoreDNS pod running k8s.gcr.io/coredns:1.7.0, the drift
// agent with `--identifier test`, GitHub releases from a local stand-in, and Opvic's read routes and
// metric names answering what the seed shows.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { parse } from 'yaml';
import { type FakeApiServer, pod, startFakeApiServer } from '../../agent/src/kubernetes/fake-api-server.test.helper.ts';
import { type RunningDriftAgent, runDriftAgent } from '../../agent/src/kubernetes/index.ts';
import { FakeUpstream } from '../src/drift/upstreams/fake-upstream.test-support.ts';
import { apiOf, callApi } from './support/api.ts';
import { describeEachStore } from './support/databases.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const tracker = parse(
  readFileSync(new URL('../../../deploy/kubernetes/examples/coredns.yaml', import.meta.url), 'utf8'),
) as { metadata: { name: string } };
const tags = ['v1.8.6', 'v1.8.5', 'v1.8.4', 'v1.8.3', 'v1.8.2', 'v1.8.1', 'v1.8.0', 'v1.7.1', 'v1.7.0'];
const releases = tags.map((tag, i) => ({
  tag_name: tag,
  name: tag,
  draft: false,
  prerelease: false,
  published_at: new Date(Date.UTC(2021, 11, 1) - i * 30 * 86_400_000).toISOString(),
  html_url: `https://github.com/coredns/coredns/releases/tag/${tag}`,
}));

describeEachStore(['sqlite', 'postgres'] as const)("the seed's CoreDNS example on %s", (kind) => {
  let server: TestServer;
  let cluster: FakeApiServer;
  let github: FakeUpstream;
  let agent: RunningDriftAgent | undefined;
  const { ok } = apiOf(() => server.url);

  beforeAll(async () => {
    github = await new FakeUpstream().start();
    github.answer('/repos/coredns/coredns/releases?per_page=100', {
      headers: { 'content-type': 'application/json', etag: '"coredns-1"' },
      body: JSON.stringify(releases),
    });
    server = await startTestServer(kind, {
      driftGithubUrl: github.origin,
      driftOpvicMetrics: 'true',
    });
    cluster = await startFakeApiServer();
  });
  afterAll(async () => {
    await agent?.stop(1000);
    await cluster?.close();
    await server?.stop();
    await github?.stop();
  });

  it('answers the running and the available versions as Opvic does', async () => {
    await ok('POST', '/api/v1/environments', { name: 'production' }, 201);
    const token = (
      await ok('POST', '/api/v1/tokens', { kind: 'agent', name: 'cluster', environment: 'production' }, 201)
    ).token as string;
    cluster.put(
      'Pods',
      pod('kube-system', 'coredns-7f89b7bc75-x2x9q', { 'k8s-app': 'kube-dns' }, ['k8s.gcr.io/coredns:1.7.0']),
    );
    // `kubectl apply -f coredns.yaml -n opvic`
    cluster.putTracker('opvic.skillz.com', { ...tracker, metadata: { ...tracker.metadata, namespace: 'opvic' } });
    agent = await runDriftAgent({
      server: server.url,
      token,
      identifier: 'test',
      tags: {},
      kubeconfig: cluster.kubeConfig(),
      reportDebounceMs: 50,
    });

    const running = await vi.waitFor(
      async () => {
        const res = await callApi(server.url, 'GET', '/api/v1alpha1/agents/test/coredns');
        expect(res.status).toBe(200);
        return res.body;
      },
      { timeout: 15_000, interval: 100 },
    );
    expect(running).toMatchObject({
      id: 'coredns',
      count: 1,
      uniqVersions: ['1.7.0'],
      versions: [
        { runningVersion: '1.7.0', resourceCount: 1, resourceKind: 'Pods', extractedFrom: 'k8s.gcr.io/coredns:1.7.0' },
      ],
      remoteVersion: { provider: 'github', strategy: 'releases', repo: 'coredns/coredns' },
    });

    const versions = await vi.waitFor(
      async () => {
        const res = await callApi(server.url, 'GET', '/api/v1alpha1/agents/test/coredns/versions');
        expect(res.status).toBe(200);
        return res.body;
      },
      { timeout: 15_000, interval: 100 },
    );
    const minors = ['1.8.0', '1.8.1', '1.8.2', '1.8.3', '1.8.4', '1.8.5', '1.8.6'];
    expect(versions).toMatchObject({
      id: 'coredns',
      agentId: 'test',
      resourceCount: 1,
      runningVersions: ['1.7.0'],
      latestVersion: '1.8.6',
      remoteProvider: 'github',
      remoteRepo: 'coredns/coredns',
      versions: [
        {
          currentVersion: '1.7.0',
          latestVersion: '1.8.6',
          availableVersions: ['1.7.1', ...minors],
          availableMajors: [],
          availableMinors: minors,
          availablePatches: ['1.7.1'],
          majorAvailable: false,
          minorAvailable: true,
          patchAvailable: true,
        },
      ],
    });

    // Flotilla's own view of the same row, and Opvic's metric for existing dashboards.
    const page = await ok('GET', '/api/v1/drift?subject=coredns');
    expect(page.items).toMatchObject([
      { environment: 'production', place: 'test', latest: '1.8.6', behind: 'minor', minorsBehind: 1, patchesBehind: 1 },
    ]);
    const metrics = await callApi(server.url, 'GET', '/api/v1/drift/metrics');
    expect(metrics.bytes.toString()).toMatch(
      /opvic_controlplane_minor_versions_count\{[^}]*running_version="1\.7\.0"[^}]*\} 7/,
    );
    expect(github.requests.length).toBe(1);
  });
});
