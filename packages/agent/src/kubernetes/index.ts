// The Kubernetes side of drift tracking. Import it only where @kubernetes/client-node is installed
// (an optional peer dependency); the host agent never loads this module.
export {
  type ContainerImage,
  type ImageRef,
  ImageRefError,
  imagesOf,
  parseImageRef,
  TRACKED_KINDS,
  type TrackedKind,
} from './image-ref.ts';
export {
  type LabelSelector,
  LabelSelectorError,
  type LabelSelectorRequirement,
  labelSelectorString,
} from './label-selector.ts';
export {
  KIND_RESOURCES,
  type KindWatch,
  loadKubernetesClient,
  type WatchKindOptions,
  watchKind,
} from './watch-kinds.ts';
