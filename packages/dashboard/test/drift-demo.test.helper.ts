// Drift demo data: a local GitHub and endoflife.date that answer release lists, and reports from two clusters and a host
// that run versions a major, a minor and a patch behind, current, and one tracker that fails.
import type { DriftPage, DriftReport } from '@flotilla/protocol';
import { FakeUpstream } from '../../server/src/drift/upstreams/fake-upstream.test-support.ts';
import { call } from './demo-data.test.helper.ts';

const day = 86_400_000;
const releasedAt = (daysAgo: number) => new Date(Date.now() - daysAgo * day).toISOString();
const release = (
  repo: string,
  tag: string,
  daysAgo: number,
  url = `https://github.com/${repo}/releases/tag/${tag}`,
) => ({
  tag_name: tag,
  name: tag,
  draft: false,
  prerelease: false,
  published_at: releasedAt(daysAgo),
  html_url: url,
});

/** Release lists as GitHub answers them, newest first. One link is not http(s): it must not become a link. */
export const driftReleases = {
  'coredns/coredns': [
    release('coredns/coredns', 'v2.0.0', 10),
    release('coredns/coredns', 'v1.8.0', 60),
    release('coredns/coredns', 'v1.7.1', 90, 'javascript:alert(document.domain)'),
    release('coredns/coredns', 'v1.7.0', 120),
  ],
  'acme/ingress': [release('acme/ingress', 'v1.10.0', 5), release('acme/ingress', 'v1.9.0', 40)],
  'acme/nginx': [release('acme/nginx', 'v1.25.4', 3), release('acme/nginx', 'v1.25.3', 30)],
};

const isoDay = (daysFromNow: number) => new Date(Date.now() + daysFromNow * day).toISOString().slice(0, 10);

/** endoflife.date's cycles of a product: Kubernetes 1.27's support ends in 10 days. */
export const kubernetesCycles = () => [
  { cycle: '1.28', latest: '1.28.4', eol: isoDay(200), latestReleaseDate: isoDay(-20) },
  { cycle: '1.27', latest: '1.27.8', eol: isoDay(10), latestReleaseDate: isoDay(-25) },
];

/**
 * A local stand-in for api.github.com (the lists above, coredns with its quota headers, and one that
 * fails) and for endoflife.date, on one loopback origin.
 */
export async function startDriftUpstreams(): Promise<FakeUpstream> {
  const github = await new FakeUpstream().start();
  github.answer('/api/kubernetes.json', {
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(kubernetesCycles()),
  });
  for (const [repo, list] of Object.entries(driftReleases)) {
    github.answer(`/repos/${repo}/releases?per_page=100`, {
      headers: {
        'content-type': 'application/json',
        etag: `"${repo}-1"`,
        'x-ratelimit-limit': 60,
        'x-ratelimit-remaining': 57,
        'x-ratelimit-reset': Math.floor(Date.now() / 1000) + 3600,
      },
      body: JSON.stringify(list),
    });
  }
  github.answer('/repos/acme/broken/releases?per_page=100', {
    status: 500,
    headers: { 'content-type': 'application/json' },
    body: '{"message":"Server Error"}',
  });
  return github;
}

/** The server options that send GitHub and endoflife.date requests to `upstreams` (loopback, allowed explicitly). */
export const driftServerOptions = (upstreams: FakeUpstream) => ({
  driftGithubUrl: upstreams.origin,
  driftEndoflifeUrl: upstreams.origin,
  driftUpstreamAllowHost: new URL(upstreams.origin).host,
});

const gh = (repo: string) => ({ provider: 'github' as const, strategy: 'releases' as const, repo });
const pods = (runningVersion: string, resourceCount: number, image: string) => ({
  runningVersion,
  resourceCount,
  resourceKind: 'Pods',
  extractedFrom: `${image}:${runningVersion}`,
});

/** Per environment, the batch reports its places send (POST /api/v1/drift/reports). */
export const driftReports: Record<string, DriftReport[]> = {
  production: [
    {
      agentId: 'prod-eu',
      tags: { region: 'eu', team: 'core' },
      complete: true,
      subjects: [
        {
          subject: 'coredns',
          namespace: 'kube-system',
          versions: [pods('1.7.0', 3, 'registry.k8s.io/coredns/coredns')],
          upstream: gh('coredns/coredns'),
        },
        { subject: 'kubelet', versions: [], error: 'spec.localVersion.fieldSelector: invalid JSONPath ".status[" ' },
        {
          subject: 'kubernetes',
          versions: [{ runningVersion: '1.27.3', resourceCount: 6, resourceKind: 'Nodes' }],
          upstream: { provider: 'endoflife', repo: 'kubernetes' },
        },
        { subject: 'nginx', namespace: 'web', versions: [pods('1.25.3', 4, 'nginx')], upstream: gh('acme/nginx') },
        { subject: 'redis', namespace: 'cache', versions: [pods('7.2.4', 1, 'redis')], upstream: gh('acme/broken') },
      ],
    },
    {
      agentId: 'prod-us',
      tags: { region: 'us', team: 'edge' },
      complete: true,
      subjects: [
        {
          subject: 'coredns',
          namespace: 'kube-system',
          versions: [pods('2.0.0', 2, 'registry.k8s.io/coredns/coredns')],
          upstream: gh('coredns/coredns'),
        },
        {
          subject: 'ingress',
          namespace: 'ingress',
          versions: [pods('1.9.0', 2, 'registry.k8s.io/ingress-nginx/controller')],
          upstream: gh('acme/ingress'),
        },
      ],
    },
  ],
  staging: [
    {
      agentId: 'stg-apps',
      tags: { region: 'eu' },
      complete: true,
      subjects: [
        {
          subject: 'coredns',
          versions: [{ runningVersion: '1.8.0', resourceCount: 1, resourceKind: 'Command' }],
          upstream: gh('coredns/coredns'),
        },
      ],
    },
  ],
};

/** Sends `driftReports` with an agent token of each environment (created here; the environments must exist). */
export async function seedDrift(base: string, adminToken: string): Promise<void> {
  for (const [environment, reports] of Object.entries(driftReports)) {
    const { token } = await call(base, adminToken, 'POST', '/api/v1/tokens', {
      kind: 'agent',
      name: `${environment} drift agent`,
      environment,
    });
    for (const report of reports) await call(base, token, 'POST', '/api/v1/drift/reports', report);
  }
}

/** Waits until the server has compared every reported row that names an upstream (it does so in the background). */
export async function waitForDriftComparison(base: string, adminToken: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let waiting: string[] = [];
  while (Date.now() < deadline) {
    const { items } = (await call(base, adminToken, 'GET', '/api/v1/drift?limit=500')) as DriftPage;
    waiting = items.filter((i) => i.upstream && !i.resolvedAt && !i.resolveError).map((i) => `${i.place}/${i.subject}`);
    if (waiting.length === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`drift rows not compared within ${timeoutMs} ms: ${waiting.join(', ')}`);
}
