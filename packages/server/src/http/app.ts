import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import type { Logger } from 'pino';
import { accountsRoutes } from '../accounts/routes.ts';
import { sessionCookieHook } from '../auth/session.ts';
import { sessionRoutes } from '../auth/session-routes.ts';
import type { TokenStore } from '../auth/tokens.ts';
import { catalogRoutes } from '../catalog/routes.ts';
import { isUntrustedForward, untrustedForwardWarning } from '../checkin/forwarded.ts';
import { checkinRoutes } from '../checkin/routes.ts';
import type { CheckinService } from '../checkin/service.ts';
import { dashboardRoutes } from '../dashboard/routes.ts';
import { desiredRoutes } from '../desired/routes.ts';
import { faultsRoutes } from '../faults/routes.ts';
import { fleetRoutes } from '../fleet/routes.ts';
import { identityRoutes } from '../identity/routes.ts';
import { logsRoutes } from '../logs/routes.ts';
import type { Metrics } from '../metrics/metrics.ts';
import { rolloutRoutes } from '../rollouts/routes.ts';
import type { SetupGate } from '../setup/gate.ts';
import { setupRoutes } from '../setup/routes.ts';
import { usageRoutes } from '../usage/routes.ts';
import type { createUsageService } from '../usage/service.ts';
import { authenticateBeforeBody } from './auth-before-body.ts';
import { answerClientError } from './client-error.ts';
import { registerCompression } from './compression.ts';
import { installErrorHandling } from './error-handler.ts';
import type { FeatureDeps } from './feature-deps.ts';
import { healthRoutes, type Readiness } from './health-routes.ts';
import { compileTrustedProxies } from './trusted-proxies.ts';

export interface HttpDeps {
  logger: Logger;
  metrics: Metrics;
  trustedProxies: string[];
  rateLimitPerMinute: number;
  checkins: CheckinService;
  usage: ReturnType<typeof createUsageService>;
  tokens: TokenStore;
  readiness: Readiness;
  features: FeatureDeps;
  /** The first admin's one-time setup code. */
  setup: SetupGate;
  version: string;
  /** Set when check-in threads own the public listener and pass other requests over a private socket. */
  behindCheckinThreads?: boolean;
}

/**
 * Fastify's `trustProxy`: the configured proxies, and, behind check-in threads, the private socket's
 * hop (a Unix socket has no peer address), whose last `X-Forwarded-For` entry is the real peer.
 */
function trustProxyOption(deps: HttpDeps): false | ((address: string) => boolean) {
  const trusted = deps.trustedProxies.length > 0 ? compileTrustedProxies(deps.trustedProxies) : null;
  if (deps.behindCheckinThreads) return (address: string | undefined) => !address || (trusted?.(address) ?? false);
  return trusted ?? false;
}

/** A synchronous hook with label children cached per route and status: it runs on every request. */
function recordHttpMetrics(metrics: Metrics) {
  type Children = {
    count: ReturnType<Metrics['httpRequests']['labels']>;
    duration: ReturnType<Metrics['httpDuration']['labels']>;
  };
  const children = new Map<string, Children>();
  return (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const key = `${request.method} ${route} ${reply.statusCode}`;
    let child = children.get(key);
    if (!child) {
      child = {
        count: metrics.httpRequests.labels({ method: request.method, route, status: reply.statusCode }),
        duration: metrics.httpDuration.labels({ method: request.method, route }),
      };
      children.set(key, child);
    }
    child.count.inc();
    child.duration.observe(reply.elapsedTime / 1000);
    done();
  };
}

/**
 * Warns (once, shared with the check-in paths) of any request with `X-Forwarded-For` from a peer
 * outside `--trusted-proxies`. Behind check-in threads the thread appended the real peer as the last
 * hop, so the client sent the header itself only when there is an earlier one.
 */
function warnOfUntrustedForward(
  warn: () => void,
  trusted: ((address: string) => boolean) | null,
  behindCheckinThreads: boolean,
) {
  return (request: FastifyRequest, _reply: FastifyReply, done: () => void) => {
    const forwardedFor = request.headers['x-forwarded-for'];
    const peer = request.socket.remoteAddress;
    if (forwardedFor === undefined) return done();
    if (peer) {
      if (isUntrustedForward(peer, forwardedFor, trusted)) warn();
    } else if (behindCheckinThreads) {
      const list = Array.isArray(forwardedFor) ? forwardedFor.join(', ') : forwardedFor;
      const comma = list.lastIndexOf(',');
      if (comma >= 0 && !trusted?.(list.slice(comma + 1).trim())) warn();
    }
    done();
  };
}

/** Builds the HTTP app without listening, so tests can use it in-process or on a loopback port. */
export async function buildHttpApp(deps: HttpDeps): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    // Client addresses are used for geolocation and rate limiting only: never logged.
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: trustProxyOption(deps),
    bodyLimit: 1024 * 1024,
    routerOptions: { ignoreTrailingSlash: true },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    clientErrorHandler: answerClientError,
  });
  installErrorHandling(app);
  // Credentials are checked before a body is read: routes' preHandlers run at onRequest.
  authenticateBeforeBody(app);
  app.addHook('onResponse', recordHttpMetrics(deps.metrics));
  const trusted = deps.trustedProxies.length > 0 ? compileTrustedProxies(deps.trustedProxies) : null;
  const forwardWarning = untrustedForwardWarning(deps.logger, deps.metrics, trusted !== null);
  app.addHook('onRequest', warnOfUntrustedForward(forwardWarning.request, trusted, deps.behindCheckinThreads === true));
  // The dashboard's session cookie becomes a bearer credential for every API route (CSRF-checked).
  app.addHook('onRequest', sessionCookieHook);
  await app.register(swagger, {
    openapi: {
      info: { title: 'Flotilla API', version: deps.version, description: 'The Flotilla control plane API' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  });

  await app.register(healthRoutes, { metrics: deps.metrics, readiness: deps.readiness });
  await app.register(checkinRoutes, {
    service: deps.checkins,
    rateLimitPerMinute: deps.rateLimitPerMinute,
    trusted,
    onUntrustedForward: () => forwardWarning.checkins(),
  });
  // After the check-in and probe routes, so their pre-serialised answers stay uncompressed.
  await registerCompression(app);
  await app.register(swaggerUi, { routePrefix: '/api/docs' });
  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  await app.register(usageRoutes, { apps: deps.checkins.apps, usage: deps.usage, tokens: deps.tokens });
  await app.register(accountsRoutes, deps.features);
  await app.register(sessionRoutes, deps.features);
  await app.register(setupRoutes, { ...deps.features, setup: deps.setup });
  await app.register(catalogRoutes, deps.features);
  await app.register(desiredRoutes, deps.features);
  await app.register(rolloutRoutes, deps.features);
  await app.register(logsRoutes, deps.features);
  await app.register(faultsRoutes, deps.features);
  await app.register(identityRoutes, deps.features);
  await app.register(fleetRoutes, deps.features);
  await app.register(dashboardRoutes, deps.features);
  return app;
}
