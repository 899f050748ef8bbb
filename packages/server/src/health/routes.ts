import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../metrics/metrics.ts';

export interface Readiness {
  /** Resolves when the server can take traffic; throws with the reason otherwise. */
  check(): Promise<void>;
}

/** Probes and Prometheus metrics, hidden from the OpenAPI document. */
export async function healthRoutes(app: FastifyInstance, opts: { metrics: Metrics; readiness: Readiness }) {
  // upgrade-responder's health check: 200 with an empty body.
  app.get('/v1/healthcheck', { schema: { hide: true } }, (_req, reply) => reply.status(200).send());
  app.get('/healthz', { schema: { hide: true } }, () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_req, reply) => {
    try {
      await opts.readiness.check();
      return { status: 'ready' };
    } catch (err) {
      return reply.status(503).send({ status: 'not ready', reason: (err as Error).message });
    }
  });
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    await Promise.all(opts.metrics.beforeScrape.map((collect) => collect()));
    reply.type(opts.metrics.registry.contentType);
    return opts.metrics.registry.metrics();
  });
}
