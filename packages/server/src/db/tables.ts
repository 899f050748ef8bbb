import type { AccountTables } from '../accounts/tables.ts';
import type { BuildTables } from '../builds/tables.ts';
import type { CatalogTables } from '../catalog/tables.ts';
import type { DesiredTables } from '../desired/tables.ts';
import type { DriftTables } from '../drift/tables.ts';
import type { FaultTables } from '../faults/tables.ts';
import type { FederationTables } from '../federation/tables.ts';
import type { IdentityTables } from '../identity/tables.ts';
import type { LogTables } from '../logs/tables.ts';
import type { MeshTables } from '../mesh/tables.ts';
import type { RolloutTables } from '../rollouts/tables.ts';
import type { ServerKeyTables } from '../server-keys/tables.ts';
import type { PrivateFileTables } from '../service-private-files/tables.ts';
import type { TrashTables } from '../trash/tables.ts';

export interface CheckinsTable {
  time: number;
  app: string;
  app_version: string;
  country_iso_code: string;
  country: string;
  city: string;
  /** JSON object of validated extra tags. */
  tags: string;
  /** JSON object of validated extra fields. */
  fields: string;
}

export interface UsageRollupsTable {
  app: string;
  period_start: number;
  dimension: string;
  value: string;
  checkins: number;
  unique_instances: number;
}

export interface InstancePeriodKeysTable {
  app: string;
  period_start: number;
  /** Random HMAC key for this period, base64; deleted when the period closes. */
  hmac_key: string;
}

export interface InstanceSightingsTable {
  app: string;
  period_start: number;
  digest: string;
}

export interface ApiTokensTable {
  id: string;
  name: string;
  role: string;
  token_hash: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

interface CheckinTables {
  checkins: CheckinsTable;
  usage_rollups: UsageRollupsTable;
  instance_period_keys: InstancePeriodKeysTable;
  instance_sightings: InstanceSightingsTable;
  api_tokens: ApiTokensTable;
}

/** Every table; each feature declares its own in `<feature>/tables.ts`. */
export type Tables = CheckinTables &
  AccountTables &
  CatalogTables &
  DesiredTables &
  RolloutTables &
  LogTables &
  FaultTables &
  IdentityTables &
  DriftTables &
  MeshTables &
  PrivateFileTables &
  BuildTables &
  TrashTables &
  FederationTables &
  ServerKeyTables;
