import { Value } from 'typebox/value';
import { describe, expect, it } from 'vitest';
import { opvicAgentPayload } from '../test/fixtures/opvic-agent-payload.ts';
import { driftSchemaProblems, OpvicAgentPayload, parseTracker, type TrackerChecks, VersionTracker } from './drift.ts';
import { compileExtraction, ExtractionError } from './drift-extraction.ts';

// The seed's examples, transcribed from its YAML (the kubelet one has no apiVersion there).
const semverPattern = '^v([0-9]+\\.[0-9]+\\.[0-9]+)$';
const coredns = {
  apiVersion: 'opvic.skillz.com/v1alpha1',
  kind: 'VersionTracker',
  metadata: { name: 'coredns' },
  spec: {
    name: 'coredns',
    resources: { namespaces: ['kube-system'], selector: { matchLabels: { 'k8s-app': 'kube-dns' } } },
    localVersion: { strategy: 'ImageTag' },
    remoteVersion: {
      provider: 'github',
      strategy: 'releases',
      repo: 'coredns/coredns',
      extraction: { regex: { pattern: semverPattern, result: '$1' } },
    },
  },
};
const kubelet = {
  kind: 'VersionTracker',
  metadata: { name: 'kubernetes' },
  spec: {
    name: 'kubernetes',
    resources: {
      strategy: 'Nodes',
      selector: { matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'Exists' }] },
    },
    localVersion: {
      strategy: 'FieldSelector',
      fieldSelector: '.status.nodeInfo.kubeletVersion',
      extraction: { regex: { pattern: '^v([0-9]+\\.[0-9]+\\.[0-9]+)', result: '$1' } },
    },
    remoteVersion: {
      provider: 'github',
      strategy: 'tags',
      repo: 'kubernetes/kubernetes',
      extraction: { regex: { pattern: '^v([0-9]+\\.[0-9]+\\.[0-9]+)', result: '$1' } },
    },
  },
};
const artifactory = {
  apiVersion: 'opvic.skillz.com/v1alpha1',
  kind: 'VersionTracker',
  metadata: { name: 'artifactory' },
  spec: {
    name: 'artifactory',
    resources: { namespaces: ['artifactory'], selector: { matchLabels: { component: 'artifactory' } } },
    localVersion: { strategy: 'ImageTag' },
    remoteVersion: { provider: 'helm', strategy: 'appVersion', repo: 'https://charts.jfrog.io', chart: 'artifactory' },
  },
};
const artifactoryChart = {
  apiVersion: 'opvic.skillz.com/v1alpha1',
  kind: 'VersionTracker',
  metadata: { name: 'artifactory-helm' },
  spec: {
    name: 'artifactory-helm-chart',
    resources: { namespaces: ['artifactory'], selector: { matchLabels: { component: 'artifactory' } } },
    localVersion: {
      strategy: 'FieldSelector',
      fieldSelector: '.metadata.labels.chart',
      extraction: { regex: { pattern: '^artifactory-([0-9]+\\.[0-9]+\\.[0-9]+)$', result: '$1' } },
    },
    remoteVersion: {
      provider: 'helm',
      strategy: 'chartVersion',
      repo: 'https://charts.jfrog.io',
      chart: 'artifactory',
    },
  },
};
const myApp = {
  apiVersion: 'vt.skillz.com/v1alpha1',
  kind: 'VersionTracker',
  metadata: { name: 'myApp' },
  spec: {
    name: 'myApp',
    resources: {
      strategy: 'Pods',
      namespaces: ['kube-system'],
      selector: { matchLabels: { 'app.kubernetes.io/name': 'myApp' } },
    },
    localVersion: {
      strategy: 'FieldSelection',
      fieldSelector: '.metadata.labels.myApp\\.io/version',
      extraction: { regex: { pattern: semverPattern, result: '$1' } },
    },
    remoteVersion: {
      provider: 'github',
      strategy: 'releases',
      repo: 'owner/repoName',
      extraction: { regex: { pattern: '^myApp-v([0-9]+\\.[0-9]+\\.[0-9]+)$', result: '$1' } },
      constraint: '~>3',
    },
  },
};

const extractionCheck: TrackerChecks['extraction'] = (e) => {
  try {
    compileExtraction(e);
    return undefined;
  } catch (err) {
    return err instanceof ExtractionError ? err.message : String(err);
  }
};
const ok = (doc: unknown, checks?: TrackerChecks) => {
  const r = parseTracker(doc, checks);
  expect(r.errors).toEqual([]);
  if (!r.tracker) throw new Error('no tracker');
  return r.tracker;
};
const errorsOf = (doc: unknown, checks?: TrackerChecks) => {
  const r = parseTracker(doc, checks);
  expect(r.tracker).toBeNull();
  return r.errors;
};
/** A copy of `base` with `spec` fields replaced. */
const withSpec = (base: typeof coredns, spec: Record<string, unknown>) => ({
  ...base,
  spec: { ...base.spec, ...spec },
});

describe('parseTracker: the seed examples', () => {
  it('parses CoreDNS unchanged, defaulting the strategy to Pods', () => {
    const t = ok(coredns, { extraction: extractionCheck });
    expect(t.spec.resources.strategy).toBe('Pods');
    expect(t.spec.localVersion).toEqual({ strategy: 'ImageTag' });
    expect(t.spec.remoteVersion).toEqual(coredns.spec.remoteVersion);
    expect(coredns.spec.resources).not.toHaveProperty('strategy'); // the input is not mutated
  });

  it('parses kubelet (Nodes, matchExpressions Exists, FieldSelector) and normalises FieldSelector', () => {
    const t = ok(kubelet, { extraction: extractionCheck });
    expect(t.apiVersion).toBe('opvic.skillz.com/v1alpha1');
    expect(t.spec.localVersion?.strategy).toBe('FieldSelection');
    expect(t.spec.localVersion?.fieldSelector).toBe('.status.nodeInfo.kubeletVersion');
    expect(t.spec.resources.selector?.matchExpressions?.[0]?.operator).toBe('Exists');
  });

  it('parses both Artifactory examples (helm appVersion and chartVersion)', () => {
    expect(ok(artifactory).spec.remoteVersion).toMatchObject({ provider: 'helm', strategy: 'appVersion' });
    const chart = ok(artifactoryChart, { extraction: extractionCheck });
    expect(chart.spec.remoteVersion?.strategy).toBe('chartVersion');
    expect(chart.spec.localVersion?.strategy).toBe('FieldSelection');
  });

  it('parses the generic example in the vt.skillz.com group with its ~>3 constraint', () => {
    const t = ok(myApp, { extraction: extractionCheck, constraint: () => undefined });
    expect(t.apiVersion).toBe('vt.skillz.com/v1alpha1');
    expect(t.spec.remoteVersion?.constraint).toBe('~>3');
    expect(errorsOf({ ...myApp, metadata: { name: 'my app' } })[0]).toMatch(/^metadata\.name: /);
  });

  it('accepts every Kubernetes strategy and objects read back from a cluster', () => {
    for (const strategy of [
      'Pods',
      'Nodes',
      'Deployments',
      'DaemonSets',
      'StatefulSets',
      'ReplicaSets',
      'CronJobs',
      'Jobs',
    ]) {
      const doc = withSpec(coredns, { resources: { ...coredns.spec.resources, strategy } });
      expect(ok(doc).spec.resources.strategy).toBe(strategy);
    }
    const fromCluster = {
      ...coredns,
      metadata: { name: 'coredns', namespace: 'opvic', uid: 'abc', resourceVersion: '12', generation: 1 },
      status: { id: 'coredns', totalResourceCount: 1 },
    };
    expect(ok(fromCluster).metadata.namespace).toBe('opvic');
  });
});

describe('parseTracker: host strategies', () => {
  const host = (resources: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    kind: 'VersionTracker',
    metadata: { name: 'nginx' },
    spec: { name: 'nginx', resources, ...extra },
  });
  const nginxExtraction = { regex: { pattern: 'nginx/([0-9.]+)' } };

  it('accepts Command, File and Package with their one field', () => {
    const cmd = ok(
      host({ strategy: 'Command', command: ['nginx', '-v'] }, { localVersion: { extraction: nginxExtraction } }),
    );
    expect(cmd.spec.localVersion).toEqual({ extraction: nginxExtraction }); // no ImageTag default on hosts
    expect(ok(host({ strategy: 'File', path: '/etc/app/VERSION' })).spec.resources.path).toBe('/etc/app/VERSION');
    expect(ok(host({ strategy: 'Package', package: 'openssl' })).spec.resources.package).toBe('openssl');
    expect(ok(host({ strategy: 'File', path: 'C:\\app\\VERSION' })).spec.resources.path).toBe('C:\\app\\VERSION');
  });

  it('names the missing or misplaced fields', () => {
    expect(errorsOf(host({ strategy: 'Command' }))).toEqual(['spec.resources.command: required for Command']);
    expect(errorsOf(host({ strategy: 'File', path: 'etc/VERSION' }))).toEqual([
      'spec.resources.path: must be an absolute path',
    ]);
    expect(errorsOf(host({ strategy: 'Package', package: 'x', command: ['x'] }))).toEqual([
      'spec.resources.command: does not apply to Package',
    ]);
    expect(errorsOf(host({ strategy: 'Command', command: ['x'], selector: {} }))).toEqual([
      'spec.resources.selector: applies to Kubernetes strategies only, not Command',
    ]);
    expect(errorsOf(host({ strategy: 'Command', command: ['x'] }, { localVersion: { strategy: 'ImageTag' } }))).toEqual(
      ['spec.localVersion.strategy: does not apply to Command (only extraction does)'],
    );
    expect(errorsOf(host({ strategy: 'Command', command: [] }))).toEqual([
      'spec.resources.command: must not have fewer than 1 items',
    ]);
  });
});

describe('parseTracker: invalid trackers give errors naming the field', () => {
  it('refuses non-objects and wrong kinds or groups', () => {
    expect(errorsOf(null)).toEqual(['(document): expected a VersionTracker object']);
    expect(errorsOf([coredns])).toEqual(['(document): expected a VersionTracker object']);
    expect(errorsOf({ ...coredns, kind: 'Deployment' })).toEqual(['kind: must be one of VersionTracker']);
    expect(errorsOf({ ...coredns, apiVersion: 'v1' })).toEqual([
      'apiVersion: must be one of opvic.skillz.com/v1alpha1, vt.skillz.com/v1alpha1',
    ]);
    const { spec: _spec, ...noSpec } = coredns;
    expect(errorsOf(noSpec)).toEqual(['spec: required']);
    expect(errorsOf({ ...coredns, spec: 'x' })).toEqual(['spec: expected object']);
  });

  it('lists the allowed values of each enum', () => {
    const errs = errorsOf(
      withSpec(coredns, {
        resources: { ...coredns.spec.resources, strategy: 'Services' },
        localVersion: { strategy: 'Label' },
        remoteVersion: { provider: 'bitbucket', strategy: 'commits', repo: 'a/b' },
      }),
    );
    expect(errs).toContain(
      'spec.resources.strategy: must be one of Pods, Nodes, Deployments, DaemonSets, StatefulSets, ReplicaSets, CronJobs, Jobs, Command, File, Package',
    );
    expect(errs).toContain('spec.localVersion.strategy: must be one of ImageTag, FieldSelection, FieldSelector');
    expect(errs).toContain('spec.remoteVersion.provider: must be one of github, helm, oci, npm, gitlab, endoflife');
    expect(errs).toContain('spec.remoteVersion.strategy: must be one of releases, tags, chartVersion, appVersion');
  });

  it('reports unknown fields (typos) and wrong types', () => {
    expect(
      errorsOf(withSpec(coredns, { remoteVersion: { ...coredns.spec.remoteVersion, constriant: '~>1' } })),
    ).toEqual(['spec.remoteVersion.constriant: unknown field']);
    expect(errorsOf(withSpec(coredns, { name: 42 }))).toEqual(['spec.name: expected string']);
    expect(errorsOf(withSpec(coredns, { name: 'a/b' }))[0]).toMatch(/^spec\.name: /);
  });

  it('checks selectors like Kubernetes does', () => {
    const sel = (selector: unknown) => withSpec(coredns, { resources: { selector } });
    expect(errorsOf(withSpec(coredns, { resources: {} }))).toEqual(['spec.resources.selector: required for Pods']);
    expect(errorsOf(sel({ matchExpressions: [{ key: 'tier', operator: 'In' }] }))).toEqual([
      'spec.resources.selector.matchExpressions[0].values: required (non-empty) with operator In',
    ]);
    expect(errorsOf(sel({ matchExpressions: [{ key: 'tier', operator: 'Exists', values: ['a'] }] }))).toEqual([
      'spec.resources.selector.matchExpressions[0].values: must be empty with operator Exists',
    ]);
    expect(errorsOf(sel({ matchExpressions: [{ key: 'tier', operator: 'Matches', values: ['a'] }] }))).toEqual([
      'spec.resources.selector.matchExpressions[0].operator: must be one of In, NotIn, Exists, DoesNotExist',
    ]);
    expect(errorsOf(sel({ matchLabels: { 'bad key!': 'x' } }))).toEqual([
      'spec.resources.selector.matchLabels["bad key!"]: not a valid label key',
    ]);
    expect(errorsOf(sel({ matchLabels: { app: 'has space' } }))).toEqual([
      'spec.resources.selector.matchLabels["app"]: not a valid label value',
    ]);
    expect(ok(sel({ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['cache', ''] }] }))).toBeTruthy();
  });

  it('requires fieldSelector with FieldSelection', () => {
    expect(errorsOf(withSpec(coredns, { localVersion: { strategy: 'FieldSelector' } }))).toEqual([
      'spec.localVersion.fieldSelector: required with strategy FieldSelection',
    ]);
  });

  it('checks provider, strategy, repo and chart together', () => {
    const remote = (remoteVersion: unknown) => withSpec(coredns, { remoteVersion });
    expect(errorsOf(remote({ provider: 'github', repo: 'a/b' }))).toEqual([
      'spec.remoteVersion.strategy: required for github: one of releases, tags',
    ]);
    expect(errorsOf(remote({ provider: 'github', strategy: 'appVersion', repo: 'a/b' }))).toEqual([
      'spec.remoteVersion.strategy: github accepts releases, tags',
    ]);
    expect(errorsOf(remote({ provider: 'github', strategy: 'tags', repo: 'https://github.com/a/b' }))).toEqual([
      'spec.remoteVersion.repo: must be owner/name',
    ]);
    expect(errorsOf(remote({ provider: 'helm', strategy: 'appVersion', repo: 'charts.jfrog.io', chart: 'x' }))).toEqual(
      ['spec.remoteVersion.repo: must be an http(s):// or oci:// chart repository URL'],
    );
    expect(errorsOf(remote({ provider: 'helm', strategy: 'appVersion', repo: 'https://x' }))).toEqual([
      'spec.remoteVersion.chart: required for helm',
    ]);
    expect(errorsOf(remote({ provider: 'github', strategy: 'tags', repo: 'a/b', chart: 'x' }))).toEqual([
      'spec.remoteVersion.chart: applies to helm only',
    ]);
    expect(errorsOf(remote({ provider: 'npm', strategy: 'tags', repo: 'react' }))).toEqual([
      'spec.remoteVersion.strategy: npm takes no strategy',
    ]);
    expect(errorsOf(remote({ provider: 'npm' }))).toEqual(['spec.remoteVersion.repo: required for npm']);
    expect(ok(remote({ provider: 'oci', repo: 'ghcr.io/org/app' })).spec.remoteVersion?.strategy).toBe('tags');
    expect(
      ok(remote({ provider: 'helm', strategy: 'chartVersion', repo: 'oci://ghcr.io/org', chart: 'app' })),
    ).toBeTruthy();
    expect(ok(remote({ provider: 'github', strategy: 'releases', repo: 'a/b', chart: '' }))).toBeTruthy(); // Go zero value
  });

  it('runs the extraction and constraint checks it is given', () => {
    const badRegex = withSpec(coredns, {
      localVersion: { strategy: 'ImageTag', extraction: { regex: { pattern: '(?=v)1' } } },
      remoteVersion: { ...coredns.spec.remoteVersion, extraction: { regex: { pattern: '^v(1)', result: '$2' } } },
    });
    const errs = errorsOf(badRegex, { extraction: extractionCheck });
    expect(errs).toHaveLength(2);
    expect(errs[0]).toMatch(/^spec\.localVersion\.extraction\.regex: .*not valid RE2 syntax/);
    expect(errs[1]).toMatch(/^spec\.remoteVersion\.extraction\.regex: .*group 2/);
    expect(ok(badRegex)).toBeTruthy(); // without checks only the shape is validated
    const constraint = withSpec(coredns, { remoteVersion: { ...coredns.spec.remoteVersion, constraint: 'banana' } });
    expect(errorsOf(constraint, { constraint: (c) => `"${c}" is no constraint` })).toEqual([
      'spec.remoteVersion.constraint: "banana" is no constraint',
    ]);
  });

  it('caps string and array sizes', () => {
    const many = Array.from({ length: 257 }, (_, i) => `ns-${i}`);
    expect(errorsOf(withSpec(coredns, { resources: { ...coredns.spec.resources, namespaces: many } }))).toEqual([
      'spec.resources.namespaces: must not have more than 256 items',
    ]);
    const long = { regex: { pattern: 'a'.repeat(1025) } };
    expect(errorsOf(withSpec(coredns, { localVersion: { extraction: long } }))).toEqual([
      'spec.localVersion.extraction.regex.pattern: must not have more than 1024 characters',
    ]);
    expect(
      errorsOf(withSpec(coredns, { resources: { ...coredns.spec.resources, namespaces: ['Kube_System'] } }))[0],
    ).toMatch(/^spec\.resources\.namespaces\[0\]: /);
  });
});

describe('OpvicAgentPayload', () => {
  const payload = opvicAgentPayload();

  it('accepts the payload an Opvic agent sends, including Go zero values and nulls', () => {
    expect(Value.Check(OpvicAgentPayload, payload)).toBe(true);
    const zero = {
      agentId: 'test',
      agentTags: null,
      version: {
        id: 'x',
        namespace: '',
        count: 0,
        uniqVersions: null,
        versions: null,
        remoteVersion: { provider: '', strategy: '', repo: '', chart: '', extraction: { regex: null }, constraint: '' },
      },
    };
    expect(driftSchemaProblems(OpvicAgentPayload, zero)).toEqual([]);
  });

  it('refuses oversized or malformed payloads naming the field', () => {
    expect(driftSchemaProblems(OpvicAgentPayload, { ...payload, agentId: 'has space' })[0]).toMatch(/^agentId: /);
    const big = { ...payload, version: { ...payload.version, uniqVersions: Array(1001).fill('1.0.0') } };
    expect(driftSchemaProblems(OpvicAgentPayload, big)).toContain(
      'version.uniqVersions: must not have more than 1000 items',
    );
    const neg = {
      ...payload,
      version: { ...payload.version, versions: [{ runningVersion: '1', resourceCount: -1 }] },
    };
    expect(driftSchemaProblems(OpvicAgentPayload, neg)).toContain('version.versions[0].resourceCount: must be >= 0');
    expect(driftSchemaProblems(OpvicAgentPayload, { agentId: 'a' })).toEqual(['version: required']);
  });

  it('validates a whole VersionTracker schema without parseTracker too', () => {
    expect(Value.Check(VersionTracker, coredns)).toBe(true);
  });
});
