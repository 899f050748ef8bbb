import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics/metrics.ts';
import { authenticateBeforeBody } from './auth-before-body.ts';
import { answerClientError } from './client-error.ts';
import { installErrorHandling } from './error-handler.ts';

export interface HttpAppOptions {
  logger: Logger;
  metrics: Metrics;
  /** The compiled `--trusted-proxies`, or null when none are set. */
  trusted: ((address: string) => boolean) | null;
  /** Set when check-in threads own the public listener and pass other requests over a private socket. */
  behindCheckinThreads?: boolean;
}

/**
 * Fastify's `trustProxy`: the configured proxies, and, behind check-in threads, the private socket's
 * hop (a Unix socket has no peer address), whose last `X-Forwarded-For` entry is the real peer.
 */
function trustProxyOption(options: HttpAppOptions): false | ((address: string) => boolean) {
  const { trusted } = options;
  if (options.behindCheckinThreads) return (address: string | undefined) => !address || (trusted?.(address) ?? false);
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
 * The Fastify app with what every route shares (error mapping, credentials before bodies, request
 * metrics) and no route yet: the composition root (`src/routes.ts`) adds the features.
 */
export function createHttpApp(options: HttpAppOptions): FastifyInstance {
  const app: FastifyInstance = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    // Client addresses are used for geolocation and rate limiting only: never logged.
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: trustProxyOption(options),
    bodyLimit: 1024 * 1024,
    routerOptions: { ignoreTrailingSlash: true },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    clientErrorHandler: answerClientError,
  });
  installErrorHandling(app);
  // Credentials are checked before a body is read: routes' preHandlers run at onRequest. Added
  // here, before any route, as the onRoute hook sees only routes added after it.
  authenticateBeforeBody(app);
  app.addHook('onResponse', recordHttpMetrics(options.metrics));
  return app;
}
