/** Upstream state shared by every replica: exactly what `UpstreamStateStore` keeps. Times are epoch ms. */
export interface DriftUpstreamsTable {
  key: string;
  /** JSON array of UpstreamVersion; null before the first successful fetch. */
  versions: string | null;
  etag: string | null;
  last_modified: string | null;
  fetched_at: number | null;
  error: string | null;
  error_at: number | null;
  failures: number;
  retry_at: number | null;
  /** JSON RateLimit. */
  rate_limit: string | null;
}

/** What one place (cluster or host, by agent id) last reported about one subject (tracker name). */
export interface DriftSubjectsTable {
  environment: string;
  place: string;
  subject: string;
  namespace: string | null;
  /** JSON object: the place's tags. */
  tags: string;
  /** JSON array of { runningVersion, resourceCount, resourceKind, extractedFrom }. */
  versions: string;
  /** JSON upstream reference (provider, strategy, repo, chart, extraction, constraint), or null. */
  upstream: string | null;
  /** sha256 of the reported content, so an unchanged report only refreshes `reported_at`. */
  content_hash: string;
  reported_at: number;
  changed_at: number;
  /** Set by expiry when the place stopped reporting; cleared by the next report. */
  stale_since: number | null;
  /** The tracker's own error as the agent reported it (bad regex, JSONPath, command failed). */
  error: string | null;
  /** Key of the upstream this subject is compared with (`drift_upstreams.key`); null when there is none. */
  upstream_key: string | null;
  /** Highest upstream version passing the constraint. */
  latest: string | null;
  /** How far the oldest running version is behind, as `classify` counts it. */
  majors_behind: number | null;
  minors_behind: number | null;
  patches_behind: number | null;
  /** Worst of the above, for filtering: 'none' | 'patch' | 'minor' | 'major' | 'unknown'; null before resolution. */
  behind: string | null;
  /** endoflife.date: when support of the oldest running version's cycle ends (epoch ms). */
  support_ends_at: number | null;
  /** JSON: per running version its classification and the newer releases (bounded), for `drift show`. */
  resolution: string | null;
  resolved_at: number | null;
  /** Why the comparison failed (upstream refused by policy, unparsable version, fetch error). */
  resolve_error: string | null;
}

/** Host trackers per environment (`flotilla drift apply`), fetched by `flotilla agent`. */
export interface DriftTrackersTable {
  environment: string;
  /** The tracker's `metadata.name`. */
  name: string;
  /** JSON: the whole VersionTracker document as validated by `parseTracker`. */
  spec: string;
  updated_at: number;
  /** Name of the admin credential that applied it. */
  updated_by: string;
}

/** Tables of version drift. */
export type DriftTables = {
  drift_upstreams: DriftUpstreamsTable;
  drift_subjects: DriftSubjectsTable;
  drift_trackers: DriftTrackersTable;
};
