import type { FastifyRequest } from 'fastify';
import { Forbidden } from '../errors.ts';

/** The dashboard's session cookie holds a short-lived personal token. */
export const sessionCookieName = 'flotilla_session';
export const sessionMaxAgeSeconds = 12 * 60 * 60;
/** Browsers cannot add a custom header to a cross-site request without CORS, which the server never allows. */
export const csrfHeader = 'x-flotilla-csrf';

declare module 'fastify' {
  interface FastifyRequest {
    /** True when the credential came from the session cookie rather than an Authorization header. */
    viaSession?: boolean;
  }
}

const unsafeMethods = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The value of one cookie in a `Cookie` header, or undefined. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    const raw = part.slice(eq + 1).trim();
    try {
      return decodeURIComponent(raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1) : raw);
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** `Set-Cookie` for a new session (`token`) or for ending one (`null`). */
export function sessionCookie(token: string | null, secure: boolean): string {
  const attributes = ['Path=/', 'HttpOnly', 'SameSite=Strict', `Max-Age=${token ? sessionMaxAgeSeconds : 0}`];
  if (secure) attributes.push('Secure');
  return [`${sessionCookieName}=${token ? encodeURIComponent(token) : ''}`, ...attributes].join('; ');
}

/** Throws Forbidden unless the request carries the anti-CSRF header. */
export function requireCsrfHeader(request: FastifyRequest): void {
  if (request.headers[csrfHeader] !== '1') {
    throw new Forbidden(`requests signed in with the session cookie must send the header "X-Flotilla-Csrf: 1"`);
  }
}

/**
 * Makes the session cookie a bearer credential for API requests without an Authorization header,
 * so every token check (including feature-local ones) sees it. Unsafe methods need the CSRF header.
 * Idempotent: runs as a global onRequest hook and again from the authorize hooks.
 */
export function applySessionCookie(request: FastifyRequest): void {
  if (request.viaSession || request.headers.authorization) return;
  const token = readCookie(request.headers.cookie, sessionCookieName);
  if (!token) return;
  if (unsafeMethods.has(request.method)) requireCsrfHeader(request);
  request.headers.authorization = `Bearer ${token}`;
  request.viaSession = true;
}

/** The global onRequest hook: only API routes read the cookie. */
export async function sessionCookieHook(request: FastifyRequest): Promise<void> {
  if (request.url.startsWith('/api/')) applySessionCookie(request);
}
