import type { FastifyRequest } from 'fastify';
import type { Principal, Role, TokenStore } from './tokens.ts';
import { requireRole } from './tokens.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/** A preHandler that admits a bearer token with at least `role`. */
export function authorize(tokens: TokenStore, role: Exclude<Role, 'agent'>) {
  return async (request: FastifyRequest) => {
    const principal = await tokens.authenticate(request.headers.authorization);
    requireRole(principal, role);
    request.principal = principal;
  };
}

/** A preHandler that admits any valid token, agents included (for `whoami`-like routes). */
export function authenticated(tokens: TokenStore) {
  return async (request: FastifyRequest) => {
    request.principal = await tokens.authenticate(request.headers.authorization);
  };
}

/** The principal set by `authorize`/`authenticated`; a route without either is a programming error. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new Error(`route ${request.routeOptions.url} has no authorize preHandler`);
  return request.principal;
}
