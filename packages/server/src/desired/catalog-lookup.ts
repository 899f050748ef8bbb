import type { Kysely } from 'kysely';
import { findVersion, listServiceNames } from '../catalog/service.ts';
import { listProfiles } from '../catalog/store.ts';
import type { Tables } from '../db/tables.ts';

/** One published version as the catalog holds it. */
export interface CatalogVersion {
  service: string;
  version: string;
  digest: string;
  size: number;
  manifest: unknown;
  signedManifest: string;
  signature: string;
  createdAt: string;
}

/** What the desired feature needs from the catalog; tests may pass an in-memory one. */
export interface CatalogLookup {
  findVersion(db: Kysely<Tables>, service: string, version: string): Promise<CatalogVersion | undefined>;
  listServiceNames(db: Kysely<Tables>): Promise<string[]>;
  /** The services of a profile, or undefined when there is no such profile. */
  profileServices?(db: Kysely<Tables>, profile: string): Promise<string[] | undefined>;
}

/** The real catalog. */
export const catalogLookup: CatalogLookup = {
  findVersion,
  listServiceNames,
  async profileServices(db, profile) {
    return (await listProfiles(db, profile))[0]?.services;
  },
};
