import type { Kysely } from 'kysely';
import type { Tables } from '../db/tables.ts';

/** Shortens a fresh login token to the session's lifetime, so it dies with the cookie. */
export async function limitTokenExpiry(db: Kysely<Tables>, tokenId: string, expiresAt: string): Promise<void> {
  await db.updateTable('api_tokens').set({ expires_at: expiresAt }).where('id', '=', tokenId).execute();
}
