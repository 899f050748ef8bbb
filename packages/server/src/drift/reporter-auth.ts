import type { FastifyRequest } from 'fastify';
import { principalOf } from '../auth/hook.ts';
import { Forbidden, Unauthorized } from '../errors.ts';
import type { FeatureDeps } from '../http/feature-deps.ts';

/**
 * Drift reports take an agent token bound to an environment (a Kubernetes drift-agent) or an enrolled
 * instance credential (a host agent); the report lands in the credential's environment. Admins and
 * viewers read; they may not write reports.
 */
export function authorizeReporter(deps: FeatureDeps) {
  return async (request: FastifyRequest) => {
    if (request.viaSession) throw new Unauthorized('drift reports take an agent token in "Authorization: Bearer"');
    const principal = await deps.tokens.authenticate(request.headers.authorization);
    if (principal.role !== 'agent')
      throw new Forbidden(`drift reports take agent tokens; the token "${principal.name}" has ${principal.role}`);
    if (!principal.environment)
      throw new Forbidden(`the agent token "${principal.name}" is not bound to an environment`);
    request.principal = principal;
  };
}

/** An instance credential speaks only for its own instance: the place must be its id. */
export function checkPlace(request: FastifyRequest, agentId: string): string {
  const principal = principalOf(request);
  if (principal.kind === 'instance' && principal.instanceId !== agentId)
    throw new Forbidden(`the instance "${principal.instanceId}" may report only as agentId "${principal.instanceId}"`);
  return principal.environment as string;
}
