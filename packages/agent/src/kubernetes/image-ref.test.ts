import { describe, expect, it } from 'vitest';
import { ImageRefError, imagesOf, parseImageRef } from './image-ref.ts';

const sha = `sha256:${'a1'.repeat(32)}`;

describe('parseImageRef', () => {
  it.each([
    ['nginx', 'docker.io', 'library/nginx', 'latest', undefined],
    ['nginx:1.25', 'docker.io', 'library/nginx', '1.25', undefined],
    ['library/nginx', 'docker.io', 'library/nginx', 'latest', undefined],
    ['bitnami/redis:7.2.4-debian-12-r0', 'docker.io', 'bitnami/redis', '7.2.4-debian-12-r0', undefined],
    ['docker.io/nginx:1', 'docker.io', 'library/nginx', '1', undefined],
    ['index.docker.io/library/nginx:1', 'docker.io', 'library/nginx', '1', undefined],
    ['registry.example.com:5000/team/app:1.2.3', 'registry.example.com:5000', 'team/app', '1.2.3', undefined],
    [`ghcr.io/o/r:v1@${sha}`, 'ghcr.io', 'o/r', 'v1', sha],
    [`repo@${sha}`, 'docker.io', 'library/repo', undefined, sha],
    ['localhost:5000/x', 'localhost:5000', 'x', 'latest', undefined],
    ['localhost/x:2', 'localhost', 'x', '2', undefined],
    ['k8s.gcr.io/coredns:1.7.0', 'k8s.gcr.io', 'coredns', '1.7.0', undefined],
    ['registry.k8s.io/coredns/coredns:v1.11.1', 'registry.k8s.io', 'coredns/coredns', 'v1.11.1', undefined],
    ['quay.io/a/b/c_d__e-f:tag_1.0', 'quay.io', 'a/b/c_d__e-f', 'tag_1.0', undefined],
  ])('%s', (reference, registry, repository, tag, digest) => {
    expect(parseImageRef(reference)).toEqual({ registry, repository, tag, digest });
  });

  it.each([
    '',
    'Nginx',
    'nginx:',
    'nginx:-bad',
    'nginx@sha256:short',
    'nginx@',
    'a b',
    'registry.example.com:5000/',
    'foo//bar',
    'team/-app',
  ])('refuses %j with a clear error', (reference) => {
    expect(() => parseImageRef(reference)).toThrow(ImageRefError);
    expect(() => parseImageRef(reference)).toThrow(/invalid image reference/);
  });
});

const podSpec = {
  initContainers: [{ name: 'migrate', image: 'app/migrate:2' }],
  containers: [
    { name: 'app', image: 'app/web:1.0' },
    { name: 'sidecar', image: `envoyproxy/envoy:v1.30@${sha}` },
  ],
};

describe('imagesOf', () => {
  const expected = [
    { container: 'migrate', type: 'init', image: 'app/migrate:2' },
    { container: 'app', type: 'container', image: 'app/web:1.0' },
    { container: 'sidecar', type: 'container', image: `envoyproxy/envoy:v1.30@${sha}` },
  ];

  it('reads every container, init and ephemeral container of a Pod', () => {
    const pod = { spec: { ...podSpec, ephemeralContainers: [{ name: 'debug', image: 'busybox' }] } };
    expect(imagesOf(pod, 'Pods')).toEqual([...expected, { container: 'debug', type: 'ephemeral', image: 'busybox' }]);
  });

  it.each(['Deployments', 'DaemonSets', 'StatefulSets', 'ReplicaSets', 'Jobs'] as const)(
    'reads the pod template of %s',
    (kind) => {
      expect(imagesOf({ spec: { template: { spec: podSpec } } }, kind)).toEqual(expected);
    },
  );

  it("reads a CronJob's job template", () => {
    const cronJob = { spec: { schedule: '* * * * *', jobTemplate: { spec: { template: { spec: podSpec } } } } };
    expect(imagesOf(cronJob, 'CronJobs')).toEqual(expected);
    expect(imagesOf(cronJob, 'Deployments')).toEqual([]);
  });

  it('finds nothing on Nodes or malformed objects', () => {
    expect(imagesOf({ status: { images: [{ names: ['nginx'] }] } }, 'Nodes')).toEqual([]);
    expect(imagesOf(null, 'Pods')).toEqual([]);
    expect(imagesOf({ spec: { containers: 'x' } }, 'Pods')).toEqual([]);
    expect(imagesOf({ spec: { containers: [{ name: 'a' }, null, { image: 'x' }] } }, 'Pods')).toEqual([
      { container: '', type: 'container', image: 'x' },
    ]);
  });
});
