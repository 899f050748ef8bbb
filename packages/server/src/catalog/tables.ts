import type { Generated } from 'kysely';

/** Tables of the catalog feature: services, profiles and published versions. */
export interface ServicesTable {
  name: string;
  description: string;
  /** Versions kept for this service; null means the server-wide default. */
  max_history_size: number | null;
  created_at: string;
  updated_at: string;
}

export interface ProfilesTable {
  name: string;
  updated_at: string;
}

export interface ProfileServicesTable {
  profile: string;
  service: string;
}

export interface ServiceVersionsTable {
  service: string;
  version: string;
  /** `sha256:<hex>` of the artifact; the blob lives at `artifacts/sha256/<ab>/<hex>`. */
  digest: string;
  size: number;
  /** The install manifest (`flotilla.json`) as JSON text. */
  manifest: string;
  /** The canonical JSON that `signature` covers. */
  signed_manifest: string;
  signature: string;
  key_id: string;
  notes: string | null;
  author: string;
  created_at: string;
  /** `developer` (the default) or `client`; a client version's `version` is `<name>+client`. */
  kind: Generated<string>;
  developer_version: string | null;
  /** 0 for a client version named like its developer version, N for `<name>_N`. */
  generation: number | null;
  /** SHA-256 (hex) of what made a client version: equal inputs, no new generation. */
  client_inputs: string | null;
  /** JSON array of the settings repositories with their commits. */
  settings: string | null;
  /** A client version built for this consumer server, which alone is offered it. */
  consumer: string | null;
}

export interface CatalogTables {
  services: ServicesTable;
  profiles: ProfilesTable;
  profile_services: ProfileServicesTable;
  service_versions: ServiceVersionsTable;
}
