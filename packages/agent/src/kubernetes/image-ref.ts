// Container image references (the Docker/OCI "reference" grammar) and the images a Kubernetes object
// runs. Unlike a `.*:(.*)$` regex this survives registry ports, digests and untagged images.

/** A parsed image reference, normalised the way Docker does (docker.io, library/, implied latest). */
import { kubernetesStrategies } from '@flotilla/protocol/drift-constants';
export interface ImageRef {
  /** Registry host, with its port if any: `docker.io`, `ghcr.io`, `localhost:5000`. */
  registry: string;
  /** Repository path inside the registry: `library/nginx`, `team/app`. */
  repository: string;
  /** The tag; `latest` when neither a tag nor a digest is given; undefined for a digest-only reference. */
  tag: string | undefined;
  /** `algorithm:hex`, e.g. `sha256:…`, when pinned. */
  digest: string | undefined;
}

export class ImageRefError extends Error {
  override name = 'ImageRefError';
}

const DOCKER_HUB = 'docker.io';
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const HOST =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$/;

/** Parses `nginx`, `nginx:1.25`, `registry:5000/team/app:1.2.3`, `ghcr.io/o/r:v1@sha256:…`, `repo@sha256:…`. */
export function parseImageRef(reference: string): ImageRef {
  const fail = (why: string): never => {
    throw new ImageRefError(`invalid image reference ${JSON.stringify(reference)}: ${why}`);
  };
  if (reference === '' || reference.length > 4096 || /\s/.test(reference)) fail('empty, too long or has spaces');
  let rest = reference;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) fail(`bad digest ${JSON.stringify(digest)}`);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) fail(`bad tag ${JSON.stringify(tag)}`);
  }
  // The first component is a registry only if it looks like a host (Docker's rule).
  let registry = DOCKER_HUB;
  let repository = rest;
  const slash = rest.indexOf('/');
  if (slash !== -1) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost') {
      if (!HOST.test(first)) fail(`bad registry ${JSON.stringify(first)}`);
      registry = first === 'index.docker.io' ? DOCKER_HUB : first;
      repository = rest.slice(slash + 1);
    }
  }
  if (repository === '') fail('no repository');
  for (const part of repository.split('/')) {
    if (!PATH_COMPONENT.test(part)) fail(`bad repository component ${JSON.stringify(part)}`);
  }
  if (registry === DOCKER_HUB && !repository.includes('/')) repository = `library/${repository}`;
  if (tag === undefined && digest === undefined) tag = 'latest';
  return { registry, repository, tag, digest };
}

/** The tracker's Kubernetes resource kinds (`spec.resources.strategy`). */
export const TRACKED_KINDS = kubernetesStrategies;
export type TrackedKind = (typeof TRACKED_KINDS)[number];

export type ContainerType = 'container' | 'init' | 'ephemeral';

/** One container of an object and the image reference it names, as written in the spec. */
export interface ContainerImage {
  container: string;
  type: ContainerType;
  image: string;
}

type Json = Record<string, unknown>;
const field = (value: unknown, key: string): unknown =>
  value !== null && typeof value === 'object' ? (value as Json)[key] : undefined;

/** The pod spec an object of `kind` runs: its own, its template's, or its job template's. */
function podSpecOf(object: unknown, kind: TrackedKind): unknown {
  const spec = field(object, 'spec');
  switch (kind) {
    case 'Pods':
      return spec;
    case 'Nodes':
      return undefined;
    case 'CronJobs':
      return field(field(field(field(spec, 'jobTemplate'), 'spec'), 'template'), 'spec');
    default:
      return field(field(spec, 'template'), 'spec');
  }
}

/** Every container, init container and ephemeral container image of a Pod or of a workload's pod template. */
export function imagesOf(object: unknown, kind: TrackedKind): ContainerImage[] {
  const podSpec = podSpecOf(object, kind);
  const images: ContainerImage[] = [];
  const lists: [string, ContainerType][] = [
    ['initContainers', 'init'],
    ['containers', 'container'],
    ['ephemeralContainers', 'ephemeral'],
  ];
  for (const [key, type] of lists) {
    const containers = field(podSpec, key);
    if (!Array.isArray(containers)) continue;
    for (const container of containers) {
      const image = field(container, 'image');
      if (typeof image !== 'string' || image === '') continue;
      const name = field(container, 'name');
      images.push({ container: typeof name === 'string' ? name : '', type, image });
    }
  }
  return images;
}
