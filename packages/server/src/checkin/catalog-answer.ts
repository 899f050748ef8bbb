import type { CheckUpgradeVersion } from '@flotilla/protocol';
import type { Kysely } from 'kysely';
import { listVersionSummaries } from '../catalog/store.ts';
import { sortNewestFirst } from '../catalog/version-name.ts';
import type { Tables } from '../db/tables.ts';
import { currentRevision } from '../desired/store.ts';

/**
 * A check-in answer built from the release catalog: every version of the service, newest first,
 * each tagged with the tags whose environment currently desires it (e.g. `latest` = production).
 */
export async function catalogVersions(
  db: Kysely<Tables>,
  source: { service: string; tags: Record<string, string> },
): Promise<CheckUpgradeVersion[]> {
  const tagsOf = new Map<string, string[]>();
  for (const [tag, env] of Object.entries(source.tags)) {
    const version = (await currentRevision(db, env))?.versions[source.service];
    if (version) tagsOf.set(version, [...(tagsOf.get(version) ?? []), tag]);
  }
  const versions = await listVersionSummaries(db, source.service);
  return sortNewestFirst(versions.map((v) => ({ version: v.version, createdAt: v.created_at }))).map((v) => ({
    name: v.version,
    releaseDate: v.createdAt,
    minUpgradableVersion: '',
    tags: tagsOf.get(v.version) ?? [],
    extraInfo: null,
  }));
}
