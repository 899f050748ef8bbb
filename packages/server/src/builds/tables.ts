/** One build job queued on the server (builds/runner.ts runs it). */
export interface BuildsTable {
  /** Given in order (max + 1), so the queue is FIFO by id. */
  id: number;
  /** `version` (from git sources) or `client` (settings applied to `from_version`). */
  kind: string;
  service: string;
  from_version: string | null;
  /** The consumer server that asked for a client build, on the provider. */
  consumer: string | null;
  /** 1: once published, each source's commit is tagged `<service>-<version>` and the tag pushed. */
  tag_sources: number;
  /** As requested; null for the next patch version. */
  version: string | null;
  /** JSON array of BuildSource. */
  sources: string;
  /** JSON object of --macro values. */
  macros: string;
  /** JSON array of private file paths of the service. */
  private_files: string;
  set_desired: string | null;
  state: string;
  /** Audit actor label of who asked. */
  requested_by: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  result_version: string | null;
  error: string | null;
  log_bytes: number | string;
  /** The server that claimed it: `<host>:<data dir>`. */
  runner: string | null;
}

export type BuildTables = { builds: BuildsTable };
