/** The check-in body and addresses the benchmark sends: a Longhorn-like app with several tags and fields. */
export const requestSchema = {
  appVersionSchema: { dataType: 'string', maxLen: 50 },
  extraTagInfoSchema: Object.fromEntries(
    ['kubernetesVersion', 'hostKernelRelease', 'hostOsDistro', 'kubernetesNodeProvider', 'cniPlugin', 'arch'].map(
      (k) => [k, { dataType: 'string' }],
    ),
  ),
  extraFieldInfoSchema: {
    nodeCount: { dataType: 'float' },
    volumeCount: { dataType: 'float' },
    diskUsageBytes: { dataType: 'float' },
    backupTargetEnabled: { dataType: 'boolean' },
    namespaceUid: { dataType: 'string' },
  },
};

/** A public-looking IPv4 address outside the private and reserved ranges. */
export function randomPublicAddress(): string {
  for (;;) {
    const a = 1 + Math.floor(Math.random() * 223);
    if ([10, 100, 127, 169, 172, 192, 198, 203].includes(a)) continue;
    return `${a}.${Math.floor(Math.random() * 256)}.${Math.floor(Math.random() * 256)}.${1 + Math.floor(Math.random() * 254)}`;
  }
}

export function checkinBody(): string {
  const minor = Math.floor(Math.random() * 8);
  return JSON.stringify({
    appVersion: `v1.${minor}.${Math.floor(Math.random() * 4)}`,
    extraTagInfo: {
      kubernetesVersion: `v1.${28 + (minor % 4)}.${minor}`,
      hostKernelRelease: '6.1.0-26-amd64',
      hostOsDistro: 'debian',
      kubernetesNodeProvider: minor % 2 ? 'k3s' : 'rke2',
      cniPlugin: 'flannel',
      arch: 'amd64',
    },
    extraFieldInfo: {
      nodeCount: 3 + minor,
      volumeCount: 12,
      diskUsageBytes: 1.2e11,
      backupTargetEnabled: minor % 2 === 0,
      namespaceUid: 'f1c0ffee',
    },
  });
}

/** Requests made up front, so the load generator spends its time sending. */
export function makeRequests(count: number): Array<{ forwardedFor: string; body: string }> {
  return Array.from({ length: count }, () => ({ forwardedFor: randomPublicAddress(), body: checkinBody() }));
}

export interface LoadOptions {
  url: string;
  connections: number;
  durationSeconds: number;
  requests: Array<{ forwardedFor: string; body: string }>;
}

export interface LoadResult {
  generator: string;
  /** Answers with a 2xx status. */
  acknowledged: number;
  /** Non-2xx answers, connection errors and timeouts. */
  errors: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
}
