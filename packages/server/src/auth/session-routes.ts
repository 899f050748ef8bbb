import { type CreatedToken, ErrorBody, WhoAmI } from '@flotilla/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { createAccountsService } from '../accounts/service.ts';
import type { FeatureDeps } from '../http/feature-deps.ts';
import {
  applySessionCookie,
  readCookie,
  requireCsrfHeader,
  sessionCookie,
  sessionCookieName,
  sessionMaxAgeSeconds,
} from './session.ts';
import { limitTokenExpiry } from './session-store.ts';

const SessionBody = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 64 }), password: Type.String({ minLength: 1, maxLength: 1024 }) },
  { additionalProperties: false },
);
type SessionBody = { name: string; password: string };

const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 429: ErrorBody };
const tags = ['accounts'];

/** `Secure` only over https (directly, or through a trusted proxy's X-Forwarded-Proto). */
const isHttps = (request: FastifyRequest) => request.protocol === 'https';

/** Dashboard sign-in and sign-out: a personal token carried in an HttpOnly cookie. */
export async function sessionRoutes(app: FastifyInstance, deps: FeatureDeps): Promise<void> {
  const accounts = createAccountsService({ db: deps.db, logger: deps.logger });

  app.post<{ Body: SessionBody }>(
    '/api/v1/auth/session',
    {
      schema: {
        tags,
        summary: 'Sign in to the dashboard: sets the session cookie (send "X-Flotilla-Csrf: 1")',
        body: SessionBody,
        response: { 200: WhoAmI, ...errors },
      },
    },
    async (request, reply) => {
      // Also for sign-in: a foreign page must not sign a browser in to an account of its choosing.
      requireCsrfHeader(request);
      return openSession(app, deps, request, reply, request.body);
    },
  );

  app.delete(
    '/api/v1/auth/session',
    {
      schema: {
        tags,
        summary: "Sign out: revokes the session cookie's token and clears the cookie",
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (request, reply) => {
      applySessionCookie(request);
      const token = readCookie(request.headers.cookie, sessionCookieName);
      if (token && request.viaSession) {
        // An expired or revoked session needs no revoking; the cookie is cleared all the same.
        const principal = await deps.tokens.authenticate(`Bearer ${token}`).catch(() => null);
        if (principal) await accounts.revokeToken(principal, principal.tokenId);
      }
      reply.header('set-cookie', sessionCookie(null, isHttps(request)));
      return reply.status(204).send();
    },
  );
}

/**
 * Signs a browser in: through the login route, so the one failure counter (and its lockout) covers
 * every way in, then the new token goes into the session cookie. Answers the credential's WhoAmI.
 */
export async function openSession(
  app: FastifyInstance,
  deps: FeatureDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  credentials: SessionBody,
) {
  const login = await app.inject({
    method: 'POST',
    url: '/api/v1/auth/login',
    payload: { ...credentials, tokenName: `${credentials.name} (dashboard)`, expiresInDays: 1 },
    remoteAddress: request.ip,
  });
  if (login.statusCode !== 200) return forward(reply, login);
  const created = login.json() as CreatedToken;
  await limitTokenExpiry(deps.db, created.info.id, new Date(Date.now() + sessionMaxAgeSeconds * 1000).toISOString());
  const principal = await deps.tokens.authenticate(`Bearer ${created.token}`);
  reply.header('set-cookie', sessionCookie(created.token, isHttps(request)));
  reply.header('cache-control', 'no-store');
  return createAccountsService({ db: deps.db }).whoami(principal);
}

function forward(reply: FastifyReply, answer: { statusCode: number; headers: Record<string, unknown>; body: string }) {
  const retryAfter = answer.headers['retry-after'];
  if (typeof retryAfter === 'string') reply.header('retry-after', retryAfter);
  if (answer.statusCode === 401) reply.header('www-authenticate', 'Bearer');
  return reply.status(answer.statusCode).send(JSON.parse(answer.body));
}
