import { createReadStream, existsSync } from 'node:fs';
import { BuildJob, BuildList, ConsumerClientBuildCreate, ErrorBody } from '@flotilla/protocol';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { NotFound } from '../errors.ts';
import type { ConsumerRow } from '../federation/consumer-store.ts';
import type { ProviderService } from '../federation/provider-service.ts';
import type { FeatureDeps } from '../http/feature-deps.ts';
import { buildLogPath } from './log-file.ts';
import type { BuildService } from './service.ts';

/**
 * Provider side of builds for consumers: a consumer server (its `flc_` token) asks for a client version
 * of a service of its profile with its own settings repositories, and reads its own jobs and logs only.
 */
export async function consumerBuildRoutes(
  app: FastifyInstance,
  deps: FeatureDeps & { builds: BuildService; provider: ProviderService },
): Promise<void> {
  const { builds, provider } = deps;
  const consumers = new WeakMap<FastifyRequest, ConsumerRow>();
  const consumerOnly = async (request: FastifyRequest) => {
    consumers.set(request, await provider.authenticate(request.headers.authorization));
  };
  const consumerOf = (request: FastifyRequest) => consumers.get(request) as ConsumerRow;
  const tags = ['federation'];
  const security = [{ bearer: [] }];
  const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody };
  const IdParams = Type.Object({ id: Type.Integer({ minimum: 1 }) });
  /** Another consumer's job, or a job of the provider's own, is not found. */
  const ownJob = async (request: FastifyRequest, id: number): Promise<BuildJob> => {
    const job = await builds.get(id).catch(() => undefined);
    if (!job || job.consumer !== consumerOf(request).name) throw new NotFound(`no build ${id}`);
    return job;
  };

  app.post<{ Body: ConsumerClientBuildCreate }>(
    '/api/v1/federation/client-builds',
    {
      preHandler: consumerOnly,
      schema: {
        tags,
        summary: "A consumer asks the provider to build a client version with the consumer's settings",
        security,
        body: ConsumerClientBuildCreate,
        response: { 201: BuildJob, ...errors, 429: ErrorBody, 503: ErrorBody },
      },
    },
    async (request, reply) => {
      const consumer = consumerOf(request);
      // The version it starts from must be one the consumer is offered (its profile, its tested gate).
      await provider.requireOffered(consumer, request.body.service, request.body.from);
      provider.requireAllowedSettings(
        consumer,
        request.body.settings.map((s) => s.url),
      );
      return reply.status(201).send(await builds.createForConsumer(consumer.name, request.body));
    },
  );

  app.get<{ Querystring: { limit?: number } }>(
    '/api/v1/federation/client-builds',
    {
      preHandler: consumerOnly,
      schema: {
        tags,
        summary: "The consumer's own build jobs at the provider, newest first",
        security,
        querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })) }),
        response: { 200: BuildList, ...errors },
      },
    },
    async (request) => ({
      builds: await builds.list({ consumer: consumerOf(request).name, limit: request.query.limit ?? 50 }),
    }),
  );

  app.get<{ Params: { id: number } }>(
    '/api/v1/federation/client-builds/:id',
    {
      preHandler: consumerOnly,
      schema: {
        tags,
        summary: 'One of the consumer’s build jobs',
        security,
        params: IdParams,
        response: { 200: BuildJob, ...errors },
      },
    },
    async (request) => ownJob(request, request.params.id),
  );

  app.post<{ Params: { id: number } }>(
    '/api/v1/federation/client-builds/:id/cancel',
    {
      preHandler: consumerOnly,
      schema: {
        tags,
        summary: "Cancel one of the consumer's build jobs: a queued one is dropped, a running one stopped",
        security,
        params: IdParams,
        response: { 200: BuildJob, ...errors },
      },
    },
    async (request) => {
      const job = await ownJob(request, request.params.id);
      const name = consumerOf(request).name;
      return builds.cancel({ tokenId: `consumer:${name}`, name: `consumer:${name}`, role: 'developer' }, job.id);
    },
  );

  app.get<{ Params: { id: number }; Querystring: { offset?: number } }>(
    '/api/v1/federation/client-builds/:id/log',
    {
      preHandler: consumerOnly,
      schema: {
        tags,
        summary: "The job's log as text from a byte offset (poll with the offset read so far)",
        security,
        params: IdParams,
        querystring: Type.Object({ offset: Type.Optional(Type.Integer({ minimum: 0 })) }),
        response: { 200: Type.String(), ...errors },
      },
    },
    async (request, reply) => {
      await ownJob(request, request.params.id);
      const path = buildLogPath(deps.dataDir, request.params.id);
      reply.type('text/plain; charset=utf-8');
      if (!existsSync(path)) return reply.send('');
      return reply.send(createReadStream(path, { start: request.query.offset ?? 0 }));
    },
  );
}
