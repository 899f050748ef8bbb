// The Kubernetes side of drift tracking, on the agent's own small API client (no generated client
// library); the host agent never loads this module.

export {
  DriftAgentConfigError,
  type DriftAgentRunOptions,
  loadKubeConfig,
  type RunningDriftAgent,
  runDriftAgent,
} from './drift-agent.ts';
export { type CompiledTracker, compileTracker, type Evaluation } from './evaluate.ts';
export {
  type ContainerImage,
  type ImageRef,
  ImageRefError,
  imagesOf,
  parseImageRef,
  TRACKED_KINDS,
  type TrackedKind,
} from './image-ref.ts';
export { compileJsonPath, JsonPathError } from './jsonpath.ts';
export { KubeApiError, type KubeClient, type KubernetesObject, kubeClient, type WatchEvent } from './kube-client.ts';
export { inClusterConfig, type KubeConfig, type KubeCredentials, kubeconfigFile } from './kube-config.ts';
export {
  type LabelSelector,
  LabelSelectorError,
  type LabelSelectorRequirement,
  labelSelectorString,
} from './label-selector.ts';
export { type DriftReporter, type ReporterOptions, type ReporterStats, startReporter } from './reporter.ts';
export { type TrackerStatus, trackerStatus } from './tracker-status.ts';
export {
  type DriftAgent,
  type DriftAgentOptions,
  type DriftLog,
  describeKubeError,
  startDriftAgent,
  trackerGroups,
} from './trackers.ts';
export {
  KIND_RESOURCES,
  type KindWatch,
  type WatchedResource,
  type WatchKindOptions,
  watchKind,
  watchResource,
} from './watch-kinds.ts';
