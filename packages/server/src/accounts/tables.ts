/** Tables of the accounts feature; `api_tokens` itself is declared with the check-in tables. */
export interface UsersTable {
  id: string;
  name: string;
  /** `admin`, `developer` or `viewer`. */
  role: string;
  /** `scrypt$N$r$p$salt$hash`, see password.ts. */
  password_hash: string;
  created_at: string;
  disabled_at: string | null;
}

export interface AuditLogTable {
  id: string;
  /** ISO-8601 UTC with milliseconds, so text order is time order. */
  at: string;
  actor: string;
  action: string;
  target: string;
  before_json: string | null;
  after_json: string | null;
}

/** Columns migration 0002 adds to `api_tokens`; merged with the base columns by type intersection. */
export interface ApiTokenAccountColumns {
  /** `admin`, `personal` or `agent` (rows from before 0002 were set to `admin`). */
  kind: string | null;
  /** The user a personal token belongs to. */
  user_id: string | null;
  /** For agent tokens: the environment name and optional profile. */
  environment: string | null;
  profile: string | null;
  expires_at: string | null;
  /** The user who made an agent token, so they may list and revoke it. */
  created_by: string | null;
  /** For agent tokens: how many instances it may enrol (migration 0009); null is no limit. */
  max_instances?: number | null;
}

export type AccountTables = {
  api_tokens: ApiTokenAccountColumns;
  users: UsersTable;
  audit_log: AuditLogTable;
};
