import type { Kysely } from 'kysely';
import type { Principal } from '../auth/tokens.ts';
import type { Tables } from '../db/tables.ts';

export interface AuditEntry {
  actor: Principal;
  /** Verb and object, e.g. `version.publish`, `desired.set`, `user.create`. */
  action: string;
  /** What was changed, e.g. `service:web`, `env:production`. */
  target: string;
  before?: unknown;
  after?: unknown;
}

/**
 * Writes one audit entry. Call it with the transaction that makes the change, so the change and
 * its record commit together. (Filled in by the accounts feature, which owns the audit table.)
 */
export async function recordAudit(_db: Kysely<Tables>, _entry: AuditEntry): Promise<void> {}
