/** Tables of the federation feature (migration 0019). */
export interface FederationConsumersTable {
  name: string;
  /** The provider profile whose services this consumer receives. */
  profile: string;
  description: string;
  /** Another consumer (the test installation): only versions it reported tested reach this one. */
  test_consumer: string | null;
  /** SHA-256 (hex) of the `flc_…` token; the token itself is shown once and never stored. */
  token_hash: string;
  created_by: string;
  created_at: string;
  last_seen_at: string | null;
  revoked_at: string | null;
  /** JSON array of URL prefixes its settings repositories must start with; none: no builds for it. */
  settings_urls: string | null;
}

export interface FederationReportsTable {
  consumer: string;
  /** The consumer's latest report (JSON): installed versions, instance states, faults. */
  report: string;
  received_at: string;
}

export interface FederationReceivedTable {
  service: string;
  version: string;
  provider_url: string;
  /** `sha256:<hex>` as the provider signed it. */
  provider_digest: string;
  provider_key_id: string;
  provider_published_at: string;
  received_at: string;
}

export interface FederationTables {
  federation_consumers: FederationConsumersTable;
  federation_reports: FederationReportsTable;
  federation_received: FederationReceivedTable;
}
