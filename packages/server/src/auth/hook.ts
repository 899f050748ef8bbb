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

/** What an agent token is bound to. */
export interface AgentScope {
  environment: string;
  profile: string | null;
}

/** A preHandler that admits only agent bearer tokens bound to an environment; sets `request.principal`. */
export function authorizeAgent(tokens: TokenStore) {
  return async (request: FastifyRequest) => {
    if (request.viaSession) throw new Unauthorized('agent routes take an agent token in "Authorization: Bearer"');
    const principal = await tokens.authenticate(request.headers.authorization);
    if (principal.role !== 'agent') {
      throw new Forbidden(`agent routes take agent tokens; the token "${principal.name}" has ${principal.role}`);
    }
    if (!principal.environment)
      throw new Forbidden(`the agent token "${principal.name}" is not bound to an environment`);
    request.principal = principal;
  };
}

/** The environment and profile of the agent admitted by `authorizeAgent`. */
export function agentScopeOf(request: FastifyRequest): AgentScope {
  const principal = principalOf(request);
  if (principal.role !== 'agent' || !principal.environment) throw new Error('route has no authorizeAgent preHandler');
  return { environment: principal.environment, profile: principal.profile ?? null };
}
