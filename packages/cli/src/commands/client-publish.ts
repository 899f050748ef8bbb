// Publishing a client version under a free generation. Generations are one sequence per developer
// version; two builds of the same developer version that ran at the same time picked the same one,
// so the second renames itself to the next free generation (or finds the first made the same thing).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  clientVersionName,
  clientVersionSuffix,
  type InstallManifest,
  type VersionDetail,
  type VersionSummary,
} from '@flotilla/protocol';
import type { ApiFlags } from '../command-helpers.ts';
import { listAllVersions, publishVersion, VersionTaken } from './catalog.ts';

/** Generation N of `developerVersion`'s client versions as the catalog names it, `+client` included. */
export function clientVersionId(developerVersion: string, generation: number): string {
  return `${clientVersionName(developerVersion, generation)}${clientVersionSuffix}`;
}

/** The newest client version made from `developerVersion` (for one consumer, or for none), by generation. */
export function latestFrom(
  versions: VersionSummary[],
  developerVersion: string,
  consumer: string | null | 'any',
): VersionSummary | undefined {
  let latest: VersionSummary | undefined;
  for (const v of versions) {
    if (v.client?.developerVersion !== developerVersion) continue;
    if (consumer !== 'any' && (v.client.consumer ?? null) !== consumer) continue;
    if (!latest || v.client.generation > (latest.client?.generation ?? -1)) latest = v;
  }
  return latest;
}

/** The next generation of `developerVersion`'s client versions, whoever they were built for. */
export function nextGeneration(versions: VersionSummary[], developerVersion: string): number {
  const latest = latestFrom(versions, developerVersion, 'any');
  return latest ? (latest.client?.generation ?? 0) + 1 : 0;
}

export interface ClientPublish {
  service: string;
  developerVersion: string;
  consumer: string | null;
  /** The digest of what made it: a version with the same, published meanwhile, is this build. */
  inputs: string;
  buildDir: string;
  generation: number;
  flags: ApiFlags & { notes?: string };
  /** Told when the generation was taken and the version renamed. */
  say: (line: string) => void;
}

/** At most this many renames: each means another build of the same developer version published first. */
const maxRenames = 5;

export async function publishClientVersion(
  req: ClientPublish,
): Promise<{ version: string; published: VersionDetail } | { version: string; same: VersionSummary }> {
  let generation = req.generation;
  for (let renames = 0; ; renames++) {
    const version = clientVersionId(req.developerVersion, generation);
    try {
      return { version, published: await publishVersion(req.service, version, req.buildDir, req.flags) };
    } catch (err) {
      if (!(err instanceof VersionTaken) || renames >= maxRenames) throw err;
    }
    const all = await listAllVersions(req.flags, req.service, 'client');
    const same = latestFrom(all, req.developerVersion, req.consumer);
    if (same?.client?.inputs === req.inputs) return { version: same.version, same };
    generation = Math.max(generation + 1, nextGeneration(all, req.developerVersion));
    req.say(`${version} was published meanwhile by another build; this one becomes generation ${generation}`);
    setGeneration(req.buildDir, generation);
  }
}

/** The generation is in the version's flotilla.json, which the server checks against its name. */
function setGeneration(buildDir: string, generation: number): void {
  const path = join(buildDir, 'flotilla.json');
  const manifest = JSON.parse(readFileSync(path, 'utf8')) as InstallManifest;
  if (!manifest.client) throw new Error(`${path} has no client section`);
  manifest.client.generation = generation;
  writeFileSync(path, `${JSON.stringify(manifest, null, 2)}\n`);
}
