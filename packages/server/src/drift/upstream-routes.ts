import { DriftUpstreamStatus, ErrorBody } from '@flotilla/protocol';
import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { Type } from 'typebox';
import { authorize } from '../auth/hook.ts';
import { clusterFor } from '../cluster/cluster.ts';
import { defaultDriftUpstreams } from '../config/drift-upstreams.ts';
import type { FeatureDeps } from '../http/feature-deps.ts';
import { registerDriftMetrics } from './metrics.ts';
import { createResolver } from './resolver.ts';
import { upstreamStatuses } from './upstream-status.ts';

/**
 * The upstream side of drift: the resolver (started and stopped with the server), its metrics, and
 * `GET /api/v1/drift/upstreams`, the fetch status of each upstream. The metrics are an inventory of
 * which versions run where and how far behind: they are served to viewers only
 * (`GET /api/v1/drift/metrics`), never on the public `/metrics`.
 */
export async function driftUpstreamRoutes(app: FastifyInstance, deps: FeatureDeps): Promise<void> {
  // Tests build partial configurations; they get public upstreams and no credentials.
  const config = deps.config.driftUpstreams ?? defaultDriftUpstreams;
  const registry = new Registry();
  const metrics = registerDriftMetrics(registry, {
    db: deps.db,
    maxSeries: config.maxSeries,
    opvic: config.opvicMetrics,
  });
  const resolver = createResolver({
    db: deps.db,
    ...(deps.commitDurably ? { commit: deps.commitDurably } : {}),
    config,
    logger: deps.logger,
    onFetch: (provider, result) => metrics.fetches.inc({ provider, result }),
  });
  let stop: (() => Promise<void>) | undefined;
  app.addHook('onReady', async () => {
    const leader = clusterFor(deps.db).leader;
    stop = resolver.start({ when: () => leader.isLeader() });
  });
  app.addHook('onClose', async () => {
    await stop?.();
  });

  app.get(
    '/api/v1/drift/upstreams',
    {
      preHandler: authorize(deps.tokens, 'viewer'),
      schema: {
        tags: ['drift'],
        summary: 'Fetch status of each upstream: versions held, age, last error, quota, subjects compared with it',
        security: [{ bearer: [] }],
        response: { 200: Type.Array(DriftUpstreamStatus), 401: ErrorBody, 403: ErrorBody },
      },
    },
    async () => upstreamStatuses(deps.db),
  );

  app.get(
    '/api/v1/drift/metrics',
    {
      preHandler: authorize(deps.tokens, 'viewer'),
      schema: {
        tags: ['drift'],
        summary: 'Drift metrics in the Prometheus text format (scrape with a bearer token)',
        security: [{ bearer: [] }],
      },
    },
    async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()),
  );
}
