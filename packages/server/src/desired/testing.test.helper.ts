import type { Kysely } from 'kysely';
import type { Principal } from '../auth/tokens.ts';
import { insertService, insertVersion, putProfile } from '../catalog/store.ts';
import type { Tables } from '../db/tables.ts';

// Test helpers: seed catalog rows through the catalog's own store, and make principals.

export function principal(name: string, role: Principal['role'] = 'developer'): Principal {
  return { tokenId: `t-${name}`, name, role };
}

/** Publishes `service@version` rows without artifacts: enough for desired lists to reference them. */
export async function seedCatalog(db: Kysely<Tables>, versions: Record<string, string[]>): Promise<void> {
  const at = new Date().toISOString();
  for (const [service, list] of Object.entries(versions)) {
    const existing = await db.selectFrom('services').select('name').where('name', '=', service).executeTakeFirst();
    if (!existing) {
      await insertService(db, {
        name: service,
        description: '',
        max_history_size: null,
        created_at: at,
        updated_at: at,
      });
    }
    for (const version of list) {
      await insertVersion(db, {
        service,
        version,
        digest: `sha256:${Buffer.from(`${service}@${version}`).toString('hex').padEnd(64, '0').slice(0, 64)}`,
        size: 100 + version.length,
        manifest: JSON.stringify({ service, version }),
        signed_manifest: JSON.stringify({ service, version, signed: true }),
        signature: `sig-${service}-${version}`,
        key_id: 'test-key',
        notes: null,
        author: 'test',
        created_at: at,
      });
    }
  }
}

export async function seedProfile(db: Kysely<Tables>, name: string, services: string[]): Promise<void> {
  await putProfile(db, name, services, new Date().toISOString());
}
