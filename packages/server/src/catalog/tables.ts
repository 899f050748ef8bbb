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
}

export interface CatalogTables {
  services: ServicesTable;
  profiles: ProfilesTable;
  profile_services: ProfileServicesTable;
  service_versions: ServiceVersionsTable;
}
