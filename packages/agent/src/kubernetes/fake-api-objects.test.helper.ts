// Objects shaped like the Kubernetes API server's, and its label selector syntax, for the fake server.
import type { TrackedKind } from './image-ref.ts';

export interface ApiObject {
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [key: string]: unknown };
  [key: string]: unknown;
}

/** Parses the API's `labelSelector` syntax into a predicate; throws on anything else. */
export function parseSelector(selector: string): (labels: Record<string, string>) => boolean {
  const parts = selector.trim() === '' ? [] : selector.split(/,(?![^()]*\))/);
  const tests = parts.map((raw): ((labels: Record<string, string>) => boolean) => {
    const part = raw.trim();
    let m = /^(\S+)\s+(in|notin)\s+\(([^()]*)\)$/.exec(part);
    if (m) {
      const [, key = '', op, list = ''] = m;
      const values = list.split(',').map((v) => v.trim());
      return (l) =>
        op === 'in' ? key in l && values.includes(l[key] ?? '') : !(key in l && values.includes(l[key] ?? ''));
    }
    m = /^([^\s!=]+)\s*(==|=|!=)\s*([^\s!=]*)$/.exec(part);
    if (m) {
      const [, key = '', op, value] = m;
      return (l) => (op === '!=' ? l[key] !== value : l[key] === value);
    }
    m = /^!\s*([^\s!=(),]+)$/.exec(part);
    if (m) return (l) => !((m?.[1] ?? '') in l);
    m = /^([^\s!=(),]+)$/.exec(part);
    if (m) return (l) => (m?.[1] ?? '') in l;
    throw new Error(`unable to parse requirement: ${JSON.stringify(part)}`);
  });
  return (labels) => tests.every((test) => test(labels));
}

/** A Pod shaped like the API server's, with the given container images. */
export function pod(
  namespace: string,
  name: string,
  labels: Record<string, string>,
  images: string[],
  initImages: string[] = [],
): ApiObject {
  return {
    metadata: { name, namespace, labels },
    spec: {
      initContainers: initImages.map((image, i) => ({ name: `init-${i}`, image })),
      containers: images.map((image, i) => ({ name: `c-${i}`, image })),
      nodeName: 'node-1',
    },
    status: {
      phase: 'Running',
      containerStatuses: images.map((image, i) => ({ name: `c-${i}`, image, ready: true, restartCount: 0 })),
    },
  };
}

/** An object of a workload kind (or a Node) whose pod template runs `image`. */
export function workload(
  kind: TrackedKind,
  namespace: string | undefined,
  name: string,
  labels: Record<string, string>,
  image: string,
): ApiObject {
  const template = { metadata: { labels }, spec: { containers: [{ name: 'main', image }] } };
  const metadata = namespace === undefined ? { name, labels } : { name, namespace, labels };
  switch (kind) {
    case 'Pods':
      return pod(namespace ?? 'default', name, labels, [image]);
    case 'Nodes':
      return {
        metadata,
        status: { nodeInfo: { kubeletVersion: image, containerRuntimeVersion: 'containerd://1.7.2' } },
      };
    case 'CronJobs':
      return { metadata, spec: { schedule: '*/5 * * * *', jobTemplate: { spec: { template } } } };
    default:
      return { metadata, spec: { selector: { matchLabels: labels }, template } };
  }
}
