import type { Kysely } from 'kysely';
import type { AgentScope } from '../auth/hook.ts';
import { listProfiles } from '../catalog/store.ts';
import type { Tables } from '../db/tables.ts';
import { Forbidden } from '../errors.ts';

/** The agent's own service: every instance reports and logs it, whatever its profile. */
export const agentServiceName = 'flotilla-agent';

/** Refuses a report, log batch or fault that names another instance than the credential's. */
export function requireOwnInstance(scope: AgentScope, instanceId: string, what: string): void {
  if (instanceId !== scope.instanceId) {
    throw new Forbidden(
      `${what} names instance "${instanceId}"; this credential is for instance "${scope.instanceId}" only`,
    );
  }
}

/** The services an instance may speak of: null when its token has no profile (all of them). */
export async function allowedServices(db: Kysely<Tables>, scope: AgentScope): Promise<Set<string> | null> {
  if (scope.profile === null) return null;
  const services = (await listProfiles(db, scope.profile))[0]?.services ?? [];
  return new Set([...services, agentServiceName]);
}

/** Refuses services outside the allowed set (null: no profile, every service is allowed). */
export function requireServicesIn(
  scope: AgentScope,
  allowed: Set<string> | null,
  services: Iterable<string>,
  what: string,
): void {
  if (allowed === null) return;
  const outside = [...new Set(services)].filter((s) => !allowed.has(s));
  if (outside.length > 0) {
    throw new Forbidden(
      `${what} names ${outside.map((s) => `"${s}"`).join(', ')}, outside the profile "${scope.profile}" of instance "${scope.instanceId}"`,
    );
  }
}

/**
 * What an instance may upload: its own instance id, services of its profile. Returns a check that
 * throws Forbidden otherwise (log batches, fault reports).
 */
export async function uploadScope(db: Kysely<Tables>, scope: AgentScope, what: string) {
  const allowed = await allowedServices(db, scope);
  return (instanceId: string, services: Iterable<string>) => {
    requireOwnInstance(scope, instanceId, what);
    requireServicesIn(scope, allowed, services, what);
  };
}
