/** One version offered by the server, with keys normalized to camelCase. */
export interface VersionInfo {
  name: string;
  releaseDate: string;
  /** The oldest version that may upgrade to this one directly; empty when any may. */
  minUpgradableVersion: string;
  tags: string[];
  extraInfo: Record<string, string> | null;
}

export type ExtraFieldValue = string | number | boolean;

export interface UpgradeCheckOptions {
  /** Server base URL (`http://host:8314`) or the full check-upgrade URL. */
  url: string;
  /** The running version, e.g. `v1.2.3`. */
  appVersion: string;
  extraTagInfo?: Record<string, string>;
  extraFieldInfo?: Record<string, ExtraFieldValue>;
  /** Deprecated by upgrade-responder; sent as is when given. */
  extraInfo?: Record<string, string>;
  /** Anonymous id, used by the server only to count unique instances. */
  instanceId?: string;
  /** The tag a candidate version must carry; `null` accepts any tag. Default `'latest'`. */
  tag?: string | null;
  /** Whole-request timeout, including reading the body. Default 10000. */
  timeoutMs?: number;
  fetch?: typeof fetch;
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

export interface UpgradeCheckResult {
  /** True when `latest` is set. */
  upgradeAvailable: boolean;
  /** The newest version carrying the tag that is newer than appVersion and reachable from it. */
  latest?: VersionInfo;
  /** The newest newer tagged version, when its minUpgradableVersion is above appVersion. */
  blockedBy?: VersionInfo;
  /** Every version the server sent, newest first. */
  versions: VersionInfo[];
  /** How often the server asks to be checked; 60 when it did not say. */
  requestIntervalInMinutes: number;
  /** The server's `Retry-After`, in milliseconds, when it sent one. */
  retryAfterMs?: number;
}
