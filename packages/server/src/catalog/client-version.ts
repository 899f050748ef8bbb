// Client versions share the catalog with developer versions: a client version is stored, desired,
// pinned, trashed and downloaded as `<name>+client`, so every place that names a version by one
// string tells the kinds apart, and agents fetch a client version's artifact like any other.
import { type ClientProvenance, clientVersionName, clientVersionSuffix } from '@flotilla/protocol';
import { Invalid } from '../errors.ts';
import { parseVersionName, sortNewestFirst } from './version-name.ts';

export type VersionKind = 'developer' | 'client';

export function kindOf(version: string): VersionKind {
  return version.endsWith(clientVersionSuffix) ? 'client' : 'developer';
}

/** `3.5.1_1+client` → `3.5.1_1`; a developer version's name is itself. */
export function nameOf(version: string): string {
  return kindOf(version) === 'client' ? version.slice(0, -clientVersionSuffix.length) : version;
}

/** Refuses a client version whose name, developer version and generation do not agree. */
export function checkClientName(version: string, client: ClientProvenance | undefined): ClientProvenance {
  if (!client) {
    throw new Invalid(`${version} names a client version, but its flotilla.json has no "client" section`);
  }
  if (!parseVersionName(client.developerVersion) || kindOf(client.developerVersion) === 'client') {
    throw new Invalid(`"${client.developerVersion}" is not the name of a developer version`);
  }
  const expected = clientVersionName(client.developerVersion, client.generation);
  if (nameOf(version) !== expected) {
    throw new Invalid(
      `generation ${client.generation} of the client versions of ${client.developerVersion} is named ${expected}${clientVersionSuffix}, not ${version}`,
    );
  }
  return client;
}

interface Sortable {
  version: string;
  createdAt: string;
  kind?: string;
  developerVersion?: string | null;
  generation?: number | null;
}

/**
 * Newest first across kinds: a client version sorts by its developer version, before it (it was made
 * from it), newer generations first.
 */
export function sortVersionsNewestFirst<T extends Sortable>(items: readonly T[]): T[] {
  const rank = (item: T) => (item.kind === 'client' ? -(item.generation ?? 0) - 1 : 0);
  // Pre-ordered so that the stable sort below keeps this order among entries of one developer version.
  const ordered = [...items].sort((a, b) => rank(a) - rank(b));
  const keyed = ordered.map((item) => ({
    item,
    version: item.kind === 'client' && item.developerVersion ? item.developerVersion : item.version,
    createdAt: item.createdAt,
  }));
  return sortNewestFirst(keyed).map((k) => k.item);
}
