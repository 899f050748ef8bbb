import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { actorLabel, type Principal } from '../auth/tokens.ts';
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

// Keys whose values are secrets; they are replaced even if a caller passes them by mistake.
const secretKey = /^(password|password_?hash|token|token_?hash|secret|private_?key)$/i;

function redact(value: unknown, depth = 0): unknown {
  if (depth > 20 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) out[key] = secretKey.test(key) ? '[redacted]' : redact(v, depth + 1);
  return out;
}

function toJson(value: unknown): string | null {
  return value === undefined ? null : JSON.stringify(redact(value));
}

/**
 * Writes one audit entry. Call it with the transaction that makes the change, so the change and
 * its record commit together.
 */
export async function recordAudit(db: Kysely<Tables>, entry: AuditEntry): Promise<void> {
  await db
    .insertInto('audit_log')
    .values({
      id: randomUUID(),
      at: new Date().toISOString(),
      actor: actorLabel(entry.actor),
      action: entry.action,
      target: entry.target,
      before_json: toJson(entry.before),
      after_json: toJson(entry.after),
    })
    .execute();
}
