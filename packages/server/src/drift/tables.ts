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
}

/** Tables of version drift. */
export type DriftTables = {
  drift_upstreams: DriftUpstreamsTable;
  drift_subjects: DriftSubjectsTable;
};
