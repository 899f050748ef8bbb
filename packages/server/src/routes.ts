import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { accountsRoutes } from './accounts/routes.ts';
import { sessionCookieHook } from './auth/session.ts';
import { sessionRoutes } from './auth/session-routes.ts';
import type { TokenStore } from './auth/tokens.ts';
import { buildRoutes } from './builds/routes.ts';
import type { BuildRunner } from './builds/runner.ts';
import { catalogRoutes } from './catalog/routes.ts';
import { untrustedForwardWarning, warnOfUntrustedForward } from './checkin/forwarded.ts';
import { checkinRoutes } from './checkin/routes.ts';
import type { CheckinService } from './checkin/service.ts';
import { dashboardRoutes } from './dashboard/routes.ts';
import { desiredRoutes } from './desired/routes.ts';
import { driftRoutes } from './drift/routes.ts';
import { driftTrackerRoutes } from './drift/tracker-routes.ts';
import { driftUpstreamRoutes } from './drift/upstream-routes.ts';
import { faultsRoutes } from './faults/routes.ts';
import { consumerRoutes } from './federation/consumer-routes.ts';
import type { Follower } from './federation/follower.ts';
import { providerBuildRoutes } from './federation/provider-build-routes.ts';
import { providerRoutes } from './federation/provider-routes.ts';
import { fleetRoutes } from './fleet/routes.ts';
import { healthRoutes, type Readiness } from './health/routes.ts';
import { createHttpApp } from './http/app.ts';
import { registerCompression } from './http/compression.ts';
import type { FeatureDeps } from './http/feature-deps.ts';
import { compileTrustedProxies } from './http/trusted-proxies.ts';
import { identityRoutes } from './identity/routes.ts';
import { logsRoutes } from './logs/routes.ts';
import { meshRoutes } from './mesh/routes.ts';
import type { Metrics } from './metrics/metrics.ts';
import { rolloutRoutes } from './rollouts/routes.ts';
import { privateFileRoutes } from './service-private-files/routes.ts';
import type { SetupGate } from './setup/gate.ts';
import { setupRoutes } from './setup/routes.ts';
import { trashRoutes } from './trash/routes.ts';
import { usageRoutes } from './usage/routes.ts';
import type { createUsageService } from './usage/service.ts';

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
  /** Runs the queued build jobs; without it, builds are refused as unavailable. */
  builds?: BuildRunner;
  /** Federation: this server's follower of a provider (consumer side); without it, no consumer routes. */
  follower?: Follower;
  /** How often waiting consumer feeds look for catalog changes (ms). */
  feedIntervalMs?: number;
  /** The first admin's one-time setup code. */
  setup: SetupGate;
  version: string;
  /** Set when check-in threads own the public listener and pass other requests over a private socket. */
  behindCheckinThreads?: boolean;
}

/**
 * Part of the composition root: every feature's routes on the shared HTTP app (`http/`), which never
 * imports a feature. Builds without listening, so tests can use it in-process or on a loopback port.
 */
export async function buildHttpApp(deps: HttpDeps): Promise<FastifyInstance> {
  const trusted = deps.trustedProxies.length > 0 ? compileTrustedProxies(deps.trustedProxies) : null;
  const behindCheckinThreads = deps.behindCheckinThreads === true;
  const app = createHttpApp({ logger: deps.logger, metrics: deps.metrics, trusted, behindCheckinThreads });
  const forwardWarning = untrustedForwardWarning(deps.logger, deps.metrics, trusted !== null);
  app.addHook('onRequest', warnOfUntrustedForward(forwardWarning.request, trusted, behindCheckinThreads));
  // The dashboard's session cookie becomes a bearer credential for every API route (CSRF-checked).
  app.addHook('onRequest', sessionCookieHook);
  // A build job's credential reaches only its own service's publishing routes, whatever route it calls.
  app.addHook('preHandler', deps.tokens.buildCredentials.gate());
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
  await app.register(privateFileRoutes, deps.features);
  await app.register(buildRoutes, { ...deps.features, builds: deps.builds });
  await app.register(desiredRoutes, deps.features);
  await app.register(trashRoutes, deps.features);
  await app.register(rolloutRoutes, deps.features);
  await app.register(logsRoutes, deps.features);
  await app.register(faultsRoutes, deps.features);
  await app.register(identityRoutes, deps.features);
  await app.register(fleetRoutes, deps.features);
  await app.register(driftRoutes, deps.features);
  await app.register(driftUpstreamRoutes, deps.features);
  await app.register(driftTrackerRoutes, deps.features);
  await app.register(meshRoutes, deps.features);
  await app.register(providerRoutes, { ...deps.features, feedIntervalMs: deps.feedIntervalMs });
  if (deps.follower) {
    await app.register(consumerRoutes, { ...deps.features, follower: deps.follower });
    await app.register(providerBuildRoutes, { ...deps.features, follower: deps.follower });
  }
  await app.register(dashboardRoutes, deps.features);
  return app;
}
