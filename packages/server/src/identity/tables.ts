/** One row per enrolled agent instance. Times are ISO-8601 UTC text. */
export interface AgentIdentitiesTable {
  instance_id: string;
  /** Copied from the enrolling agent token; reports are accepted only within them. */
  environment: string;
  profile: string | null;
  /** The agent token that enrolled the instance; revoking it stops the instance too. */
  token_id: string;
  /** SHA-256 (hex) of the instance credential; the credential itself is never stored. */
  credential_hash: string;
  /** The agent's Ed25519 public key (SPKI PEM), for certificates bound to this instance. */
  public_key: string | null;
  enrolled_at: string;
  revoked_at: string | null;
  last_used_at: string | null;
}

export type IdentityTables = {
  agent_identities: AgentIdentitiesTable;
};
