import type { FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { principalOf } from '../auth/hook.ts';
import type { Principal, TokenStore } from '../auth/tokens.ts';
import type { Tables } from '../db/tables.ts';
import { Forbidden, Unauthorized } from '../errors.ts';
import type { FeatureDeps } from '../http/feature-deps.ts';
import { findIdentity } from '../identity/store.ts';

/**
 * Drift reports take an agent token bound to an environment (a Kubernetes drift-agent) or an enrolled
 * instance credential (a host agent); the report lands in the credential's environment. Admins and
 * viewers read; they may not write reports.
 */
export async function reporterPrincipal(tokens: TokenStore, authorization: string | undefined): Promise<Principal> {
  const principal = await tokens.authenticate(authorization);
  if (principal.role !== 'agent')
    throw new Forbidden(`drift reports take agent tokens; the token "${principal.name}" has ${principal.role}`);
  if (!principal.environment) throw new Forbidden(`the agent token "${principal.name}" is not bound to an environment`);
  return principal;
}

export function authorizeReporter(deps: FeatureDeps) {
  return async (request: FastifyRequest) => {
    if (request.viaSession) throw new Unauthorized('drift reports take an agent token in "Authorization: Bearer"');
    request.principal = await reporterPrincipal(deps.tokens, request.headers.authorization);
  };
}

/**
 * An instance credential speaks only for its own instance: the place must be its id. An agent token
 * (a cluster's drift agent) may name any place of its environment except an enrolled host, whose rows
 * only that host's credential may write (a complete report would otherwise erase them).
 */
export async function reporterEnvironment(db: Kysely<Tables>, principal: Principal, agentId: string): Promise<string> {
  const environment = principal.environment as string;
  if (principal.kind === 'instance') {
    if (principal.instanceId !== agentId)
      throw new Forbidden(
        `the instance "${principal.instanceId}" may report only as agentId "${principal.instanceId}"`,
      );
    return environment;
  }
  const host = await findIdentity(db, agentId);
  if (host && host.environment === environment)
    throw new Forbidden(`agentId "${agentId}" is an enrolled host; only its own instance credential reports for it`);
  return environment;
}

export function checkPlace(deps: FeatureDeps, request: FastifyRequest, agentId: string): Promise<string> {
  return reporterEnvironment(deps.db, principalOf(request), agentId);
}
