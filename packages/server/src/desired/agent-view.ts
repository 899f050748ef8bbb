import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Tables } from '../db/tables.ts';
import { NotFound } from '../errors.ts';
import { assignedRevision } from '../rollouts/assignment.ts';
import { activeRollout } from '../rollouts/store.ts';
import type { CatalogLookup } from './catalog-lookup.ts';
import * as store from './store.ts';

/** What agents are answered: the revision each should run and its view, restricted to its profile. */
export function createAgentViews({ db, lookup }: { db: Kysely<Tables>; lookup: CatalogLookup }) {
  /** The services of an agent's profile; a profile the catalog does not know serves nothing. */
  async function profileServices(profile: string): Promise<Set<string> | undefined> {
    if (!lookup.profileServices) return undefined;
    return new Set((await lookup.profileServices(db, profile)) ?? []);
  }

  return {
    /** The revision an agent should run: its rollout wave's revision while a rollout is active, else the current one. */
    async agentRevision(env: string, instanceId?: string): Promise<number | undefined> {
      // The current revision first: read after the rollout, a rollout started in between would serve
      // its target to an instance outside the wave, and the next answer (the base) would go back.
      const current = await store.currentRevisionNumber(db, env);
      return (await assignedRevision(db, env, instanceId)) ?? current;
    },

    /** The current revision and whether a rollout assigns revisions per instance (then ask agentRevision). */
    async environmentRevisionState(env: string): Promise<{ current: number | undefined; rollout: boolean }> {
      const current = await store.currentRevisionNumber(db, env);
      return { current, rollout: (await activeRollout(db, env)) !== undefined };
    },

    /** Part of an agent's ETag, so that a change of its profile's services also counts as a change. */
    async profileTag(profile: string | null): Promise<string> {
      if (profile === null) return '';
      const services = await profileServices(profile);
      const hash = createHash('sha256')
        .update([...(services ?? [])].sort().join('\n'))
        .digest('hex');
      return `-${profile}-${hash.slice(0, 12)}`;
    },

    /** The current list with what an agent needs to fetch and verify each artifact. */
    async agentView(env: string, profile: string | null = null, revision?: number) {
      const current =
        revision === undefined ? await store.currentRevision(db, env) : await store.getRevision(db, env, revision);
      if (!current) throw new NotFound(`no environment "${env}"`);
      const only = profile === null ? undefined : await profileServices(profile);
      const services = [];
      for (const [service, version] of Object.entries(current.versions)) {
        if (only && !only.has(service)) continue;
        const found = await lookup.findVersion(db, service, version);
        // A version deleted from the catalog since it was made desired cannot be served; leave it out.
        if (!found) continue;
        services.push({
          service,
          version,
          digest: found.digest,
          size: found.size,
          manifest: found.manifest,
          signedManifest: found.signedManifest,
          signature: found.signature,
          artifactUrl: `/api/v1/services/${encodeURIComponent(service)}/versions/${encodeURIComponent(version)}/artifact`,
        });
      }
      return { environment: env, revision: current.revision, services };
    },
  };
}
