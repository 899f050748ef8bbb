import type { Kysely } from 'kysely';
import { hashToken, TokenStore } from '../auth/tokens.ts';
import type { Tables } from '../db/tables.ts';
import { generateInstanceCredential } from './service.ts';
import { insertIdentity } from './store.ts';

/**
 * Enrols instances straight in the store, as agents would with an agent token of `environment`
 * (service tests that report through `createInstanceService` without the HTTP API).
 */
export async function enrolForTest(
  db: Kysely<Tables>,
  environment: string,
  instanceIds: string[],
  profile: string | null = null,
): Promise<void> {
  const token = await new TokenStore(db).create(`agent-${environment}-${instanceIds[0]}`, 'agent', undefined, {
    kind: 'agent',
    environment,
    profile,
  });
  for (const id of instanceIds) {
    await insertIdentity(db, {
      instance_id: id,
      environment,
      profile,
      token_id: token.id,
      credential_hash: hashToken(generateInstanceCredential()),
      public_key: null,
      enrolled_at: new Date().toISOString(),
      revoked_at: null,
      last_used_at: null,
    });
  }
}
