import type { FastifyRequest } from 'fastify';
import { Forbidden, Unauthorized } from '../errors.ts';
import { applySessionCookie } from './session.ts';
import type { Principal, Role, TokenStore } from './tokens.ts';
import { requireRole } from './tokens.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/**
 * A preHandler that admits a bearer token, or the dashboard's session cookie when there is no
 * Authorization header (unsafe methods then need the CSRF header), with at least `role`.
 */
export function authorize(tokens: TokenStore, role: Exclude<Role, 'agent'>) {
  return async (request: FastifyRequest) => {
    applySessionCookie(request);
    const principal = await tokens.authenticate(request.headers.authorization);
    requireRole(principal, role);
    request.principal = principal;
  };
}

/** A preHandler that admits any valid token, agents included (for `whoami`-like routes). */
export function authenticated(tokens: TokenStore) {
  return async (request: FastifyRequest) => {
    applySessionCookie(request);
    request.principal = await tokens.authenticate(request.headers.authorization);
  };
}

/** The principal set by `authorize`/`authenticated`; a route without either is a programming error. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new Error(`route ${request.routeOptions.url} has no authorize preHandler`);
  return request.principal;
}

/** What an enrolled agent instance is bound to. */
export interface AgentScope {
  environment: string;
  profile: string | null;
  /** The one instance the credential speaks for. */
  instanceId: string;
}

/** A preHandler that admits only agent bearer tokens bound to an environment (they may only enrol). */
export function authorizeAgentToken(tokens: TokenStore) {
  return async (request: FastifyRequest) => {
    if (request.viaSession) throw new Unauthorized('agent routes take an agent token in "Authorization: Bearer"');
    const principal = await tokens.authenticate(request.headers.authorization);
    if (principal.kind === 'instance') {
      throw new Forbidden(`instance "${principal.instanceId}" is already enrolled; enrol with the agent token`);
    }
    if (principal.role !== 'agent') {
      throw new Forbidden(`agent routes take agent tokens; the token "${principal.name}" has ${principal.role}`);
    }
    if (!principal.environment)
      throw new Forbidden(`the agent token "${principal.name}" is not bound to an environment`);
    request.principal = principal;
  };
}

/**
 * A preHandler that admits only enrolled instances (their instance credential); sets
 * `request.principal`. A bare agent token is refused: it may only enrol.
 */
export function authorizeAgent(tokens: TokenStore) {
  return async (request: FastifyRequest) => {
    if (request.viaSession)
      throw new Unauthorized('agent routes take an instance credential in "Authorization: Bearer"');
    const principal = await tokens.authenticate(request.headers.authorization);
    if (principal.role !== 'agent') {
      throw new Forbidden(
        `agent routes take instance credentials; the token "${principal.name}" has ${principal.role}`,
      );
    }
    requireInstance(principal);
    request.principal = principal;
  };
}

/** Refuses an agent principal that is not an enrolled instance. */
export function requireInstance(principal: Principal): void {
  if (principal.kind !== 'instance' || !principal.instanceId || !principal.environment) {
    throw new Forbidden(
      `enrol first: the agent token "${principal.name}" may only enrol an instance (POST /api/v1/agent/enroll); agent routes take the instance credential it returns`,
    );
  }
}

/** The environment, profile and instance of the agent admitted by `authorizeAgent`. */
export function agentScopeOf(request: FastifyRequest): AgentScope {
  const principal = principalOf(request);
  if (principal.role !== 'agent' || !principal.environment || !principal.instanceId) {
    throw new Error('route has no authorizeAgent preHandler');
  }
  return { environment: principal.environment, profile: principal.profile ?? null, instanceId: principal.instanceId };
}
