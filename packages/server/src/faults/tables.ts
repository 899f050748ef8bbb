/** One uploaded fault report; the archive is `<dataDir>/faults/<id>.tar.gz`. Times are epoch ms. */
export interface FaultReportsTable {
  id: string;
  /** When the server accepted the upload (retention by age counts from here). */
  received_at: number;
  /** When the fault happened, as the agent reported it. */
  time: number;
  /** From the agent's token, never from the report. */
  environment: string;
  instance_id: string;
  service: string;
  version: string | null;
  reason: string;
  exit_code: number | null;
  signal: string | null;
  /** Archive size in bytes. */
  size: number;
  /** `sha256:<hex>` of the archive. */
  digest: string;
  /** JSON array of the file names under `files/` in the archive. */
  files: string;
  /** JSON object: the supervisor's state at the time. */
  state: string;
  /** The last log lines, joined with `\n`. */
  log_tail: string;
}

/** Tables of fault reports. */
export type FaultTables = {
  fault_reports: FaultReportsTable;
};
