import type { Profile } from '@flotilla/protocol';
import { serviceNamePattern } from '@flotilla/protocol';
import type { Kysely } from 'kysely';
import { recordAudit } from '../audit/audit-log.ts';
import { authorName, type Principal } from '../auth/tokens.ts';
import type { Tables } from '../db/tables.ts';
import { Invalid, NotFound } from '../errors.ts';
import { putInTrash } from '../trash/store.ts';
import * as store from './store.ts';

const namePattern = new RegExp(serviceNamePattern);

/** Profiles: named sets of services, always replaced whole. */
export function createProfileRules(db: Kysely<Tables>, now: () => string) {
  return {
    async listProfiles(): Promise<Profile[]> {
      return store.listProfiles(db);
    },

    async getProfile(name: string): Promise<Profile> {
      const [profile] = await store.listProfiles(db, name);
      if (!profile) throw new NotFound(`no profile "${name}"`);
      return profile;
    },

    async putProfile(actor: Principal, name: string, services: string[]): Promise<Profile> {
      if (!namePattern.test(name)) throw new Invalid(`profile name "${name}" must match ${serviceNamePattern}`);
      const unique = [...new Set(services)].sort();
      return db.transaction().execute(async (tx) => {
        const known = await store.existingServices(tx, unique);
        const unknown = unique.filter((s) => !known.has(s));
        if (unknown.length > 0) throw new Invalid(`unknown service(s): ${unknown.join(', ')}`);
        const [before] = await store.listProfiles(tx, name);
        const at = now();
        await store.putProfile(tx, name, unique, at);
        const after = { name, services: unique, updatedAt: at };
        await recordAudit(tx, { actor, action: 'profile.set', target: `profile:${name}`, before, after });
        return after;
      });
    },

    async deleteProfile(actor: Principal, name: string): Promise<void> {
      await db.transaction().execute(async (tx) => {
        const [before] = await store.listProfiles(tx, name);
        if (!before) throw new NotFound(`no profile "${name}"`);
        await store.deleteProfile(tx, name);
        await putInTrash(tx, { kind: 'profile', name, data: before, at: now(), by: authorName(actor) });
        await recordAudit(tx, { actor, action: 'profile.delete', target: `profile:${name}`, before });
      });
    },
  };
}
