/** Deleted things kept restorable until purged; `data` holds the rows as they were, as JSON. */
export interface TrashTable {
  id: string;
  /** `service`, `profile`, `environment` or `version`. */
  kind: string;
  /** The service, profile or environment name (a version's service). */
  name: string;
  /** A version's name; null for the other kinds. */
  version: string | null;
  /** A version's artifact digest, kept from garbage collection while the version is restorable. */
  digest: string | null;
  data: string;
  deleted_at: string;
  deleted_by: string;
}

export interface TrashTables {
  trash: TrashTable;
}
