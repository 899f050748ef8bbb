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
