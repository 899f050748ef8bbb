/** Tables of environments, desired-version revisions, tested marks and reporting instances. Times are ISO-8601 UTC text. */
export interface EnvironmentsTable {
  name: string;
  requires_tested_in: string | null;
  created_at: string;
  created_by: string;
}

export interface DesiredRevisionsTable {
  env: string;
  revision: number;
  /** JSON object `{ service: version }`. */
  versions: string;
  author: string;
  comment: string | null;
  created_at: string;
}

export interface TestedMarksTable {
  env: string;
  service: string;
  version: string;
  /** The revision of `env` that was marked. */
  revision: number;
  marked_by: string;
  marked_at: string;
}

export interface InstancesTable {
  instance_id: string;
  environment: string;
  profile: string | null;
  /** JSON object of string labels (also indexed in `instance_labels`). */
  labels: string;
  first_seen_at: string;
  last_seen_at: string;
  /** SHA-256 of the last stored report's profile, labels and services (null before migration 0022). */
  report_digest: string | null;
}

export interface InstanceLabelsTable {
  instance_id: string;
  key: string;
  value: string;
}

export interface InstanceServicesTable {
  instance_id: string;
  service: string;
  version: string | null;
  target_version: string | null;
  update_error: string | null;
  installed_at: string | null;
  started_at: string | null;
  failure_count: number;
  last_exit_code: number | null;
  state: string | null;
  updated_at: string;
}

export type DesiredTables = {
  environments: EnvironmentsTable;
  desired_revisions: DesiredRevisionsTable;
  tested_marks: TestedMarksTable;
  instances: InstancesTable;
  instance_labels: InstanceLabelsTable;
  instance_services: InstanceServicesTable;
};
