// The drift vocabulary as plain values, with no schema library behind them: the Kubernetes drift
// agent loads these (and drift-tracker.ts) without TypeBox, which would cost it about 10 MB.

export const versionTrackerApiVersions = ['opvic.skillz.com/v1alpha1', 'vt.skillz.com/v1alpha1'] as const;
export const kubernetesStrategies = [
  'Pods',
  'Nodes',
  'Deployments',
  'DaemonSets',
  'StatefulSets',
  'ReplicaSets',
  'CronJobs',
  'Jobs',
] as const;
export const hostStrategies = ['Command', 'File', 'Package'] as const;
export const resourceStrategies = [...kubernetesStrategies, ...hostStrategies] as const;
export type ResourceStrategy = (typeof resourceStrategies)[number];
/** `FieldSelector` is the seed's spelling of `FieldSelection`; parseTracker normalises it. */
export const localVersionStrategies = ['ImageTag', 'FieldSelection', 'FieldSelector'] as const;
export const remoteProviders = ['github', 'helm', 'oci', 'npm', 'gitlab', 'endoflife'] as const;
export type RemoteProvider = (typeof remoteProviders)[number];
export const remoteStrategies = ['releases', 'tags', 'chartVersion', 'appVersion'] as const;
export type RemoteStrategy = (typeof remoteStrategies)[number];
export const selectorOperators = ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const;

/** Strategies each provider accepts; the first is the default when only one fits. */
export const providerStrategies: Record<RemoteProvider, readonly RemoteStrategy[]> = {
  github: ['releases', 'tags'],
  gitlab: ['releases', 'tags'],
  helm: ['chartVersion', 'appVersion'],
  oci: ['tags'],
  npm: [],
  endoflife: [],
};

export const dnsLabel = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
export const dnsSubdomain = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';

/** Caps on one batch report (POST /api/v1/drift/reports). */
export const driftReportLimits = { subjects: 2000, versionsPerSubject: 1000, bodyBytes: 4 * 1024 * 1024 } as const;
