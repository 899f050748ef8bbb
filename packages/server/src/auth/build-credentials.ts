// Credentials of the server's own build jobs: held in memory only, valid while the job runs (and at
// most a few hours), and admitted only to the routes that publish a version of the job's service.
import { randomBytes } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { Forbidden, Unauthorized } from '../errors.ts';
import type { Principal } from './tokens.ts';

/** Prefix of build credentials (API tokens are `flt_`, instance credentials `fli_`). */
export const buildCredentialPrefix = 'flb_';

export interface BuildScope {
  jobId: number;
  service: string;
  /** The environment the job may make the version desired in (one entry of its own service only). */
  environment: string | null;
  /** A client build's developer version: the one artifact it may download. */
  from?: string | null;
  expiresAt: number;
}

// What the builder calls: the service, its versions, a version's upload, the desired list, and for a
// client build its developer version's artifact and the key that checks it.
const serviceRoutes = new Set([
  'GET /api/v1/services/:service',
  'GET /api/v1/services/:service/versions',
  'GET /api/v1/services/:service/versions/:version',
  'PUT /api/v1/services/:service/versions/:version',
]);
const artifactRoute = 'GET /api/v1/services/:service/versions/:version/artifact';
const signingKeyRoute = 'GET /api/v1/signing-key';
const desiredRoute = 'PATCH /api/v1/environments/:env/desired';

export class BuildCredentials {
  readonly #byToken = new Map<string, BuildScope>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  issue(scope: Omit<BuildScope, 'expiresAt'>, ttlMs: number): string {
    const token = `${buildCredentialPrefix}${randomBytes(32).toString('base64url')}`;
    this.#byToken.set(token, { ...scope, expiresAt: this.#now() + ttlMs });
    return token;
  }

  revoke(token: string): void {
    this.#byToken.delete(token);
  }

  /** The scope of a live credential; throws Unauthorized for an unknown, revoked or expired one. */
  scopeOf(token: string): BuildScope {
    const scope = this.#byToken.get(token);
    if (!scope) throw new Unauthorized('the build credential is unknown or its build has ended');
    if (scope.expiresAt <= this.#now()) {
      this.#byToken.delete(token);
      throw new Unauthorized(`the credential of build ${scope.jobId} expired`);
    }
    return scope;
  }

  principalOf(token: string): Principal {
    const scope = this.scopeOf(token);
    return { tokenId: `build:${scope.jobId}`, name: `build ${scope.jobId}`, role: 'developer', kind: 'build' };
  }

  /**
   * A preHandler for every route: a request with a build credential passes only to the builder's
   * routes of its own service (and its own desired entry), whatever the route's own check admits.
   */
  gate() {
    return async (request: FastifyRequest) => {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
      const token = match?.[1];
      if (!token?.startsWith(buildCredentialPrefix)) return;
      const scope = this.scopeOf(token);
      const route = `${request.method} ${request.routeOptions.url ?? ''}`;
      const params = (request.params ?? {}) as Record<string, string | undefined>;
      if (serviceRoutes.has(route) && params.service === scope.service) return;
      if (route === signingKeyRoute) return;
      // Other artifacts hold other clients' settings and private files: only the one it builds from.
      if (route === artifactRoute && params.service === scope.service && scope.from && params.version === scope.from) {
        return;
      }
      if (route === desiredRoute && scope.environment !== null && params.env === scope.environment) {
        const body = (request.body ?? {}) as { set?: Record<string, string>; remove?: unknown };
        const keys = Object.keys(body.set ?? {});
        if (body.remove === undefined && keys.length === 1 && keys[0] === scope.service) return;
      }
      throw new Forbidden(
        `the credential of build ${scope.jobId} may only publish versions of "${scope.service}"${scope.environment ? ` and make one desired in "${scope.environment}"` : ''}`,
      );
    };
  }
}
