import { createReadStream, existsSync } from 'node:fs';
import {
  BuildCreate,
  BuildJob,
  BuildList,
  BuildListQuery,
  BuildLogQuery,
  ClientBuildCreate,
  ErrorBody,
} from '@flotilla/protocol';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { authorize, principalOf } from '../auth/hook.ts';
import { createProviderService } from '../federation/provider-service.ts';
import type { FeatureDeps } from '../http/feature-deps.ts';
import { privateFilesFor } from '../service-private-files/routes.ts';
import { consumerBuildRoutes } from './consumer-build-routes.ts';
import { buildLogPath } from './log-file.ts';
import { type BuildFollowOptions, BuildLogFollowers } from './log-follow.ts';
import { BuildRunner } from './runner.ts';
import { createBuildService } from './service.ts';

/** A runner that runs nothing, for a server started without a builder command. */
export function idleBuildRunner(deps: FeatureDeps): BuildRunner {
  return new BuildRunner({
    db: deps.db,
    dataDir: deps.dataDir,
    builder: null,
    concurrency: 1,
    credentials: deps.tokens.buildCredentials,
    privateFiles: privateFilesFor(deps),
    logger: deps.logger,
  });
}

/**
 * `/api/v1/builds` and `/api/v1/services/:service/builds`: developers queue and cancel builds,
 * viewers list them; the log (developers: it shows macro values) is read or followed as it grows.
 */
export async function buildRoutes(
  app: FastifyInstance,
  deps: FeatureDeps & { builds?: BuildRunner | undefined; buildFollow?: BuildFollowOptions },
): Promise<void> {
  const runner = deps.builds ?? idleBuildRunner(deps);
  const builds = createBuildService({ db: deps.db, runner });
  const followers = new BuildLogFollowers(runner, { maxPerOwner: deps.config.logFollowMax, ...deps.buildFollow });
  const developer = authorize(deps.tokens, 'developer');
  const viewer = authorize(deps.tokens, 'viewer');
  const tags = ['builds'];
  const security = [{ bearer: [] }];
  const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody };
  const IdParams = Type.Object({ id: Type.Integer({ minimum: 1 }) });

  app.post<{ Params: { service: string }; Body: BuildCreate }>(
    '/api/v1/services/:service/builds',
    {
      preHandler: developer,
      schema: {
        tags,
        summary: 'Queue a build of the service from its git sources; it publishes a version when it succeeds',
        security,
        params: Type.Object({ service: Type.String() }),
        body: BuildCreate,
        response: { 201: BuildJob, ...errors, 429: ErrorBody, 503: ErrorBody },
      },
    },
    async (request, reply) => {
      const job = await builds.create(principalOf(request), request.params.service, request.body);
      return reply.status(201).send(job);
    },
  );

  app.post<{ Params: { service: string }; Body: ClientBuildCreate }>(
    '/api/v1/services/:service/client-builds',
    {
      preHandler: developer,
      schema: {
        tags,
        summary:
          'Queue a client build: settings repositories (and private files) applied to a developer version; it publishes `<name>+client`',
        security,
        params: Type.Object({ service: Type.String() }),
        body: ClientBuildCreate,
        response: { 201: BuildJob, ...errors, 429: ErrorBody, 503: ErrorBody },
      },
    },
    async (request, reply) => {
      const job = await builds.createClient(principalOf(request), request.params.service, request.body);
      return reply.status(201).send(job);
    },
  );

  await app.register(consumerBuildRoutes, {
    ...deps,
    builds,
    provider: createProviderService({ db: deps.db, dataDir: deps.dataDir, blobs: deps.blobs }),
  });

  app.get<{ Querystring: BuildListQuery }>(
    '/api/v1/builds',
    {
      preHandler: viewer,
      schema: {
        tags,
        summary: 'Build jobs, newest first',
        security,
        querystring: BuildListQuery,
        response: { 200: BuildList, ...errors },
      },
    },
    async (request) => ({ builds: await builds.list(request.query) }),
  );

  app.get<{ Params: { id: number } }>(
    '/api/v1/builds/:id',
    {
      preHandler: viewer,
      schema: { tags, summary: 'One build job', security, params: IdParams, response: { 200: BuildJob, ...errors } },
    },
    async (request) => builds.get(request.params.id),
  );

  app.post<{ Params: { id: number } }>(
    '/api/v1/builds/:id/cancel',
    {
      preHandler: developer,
      schema: {
        tags,
        summary: "Cancel a build: a queued one is dropped, a running one's builder is stopped; nothing is published",
        security,
        params: IdParams,
        response: { 200: BuildJob, ...errors },
      },
    },
    async (request) => builds.cancel(principalOf(request), request.params.id),
  );

  app.get<{ Params: { id: number }; Querystring: BuildLogQuery }>(
    '/api/v1/builds/:id/log',
    {
      preHandler: developer,
      schema: {
        tags,
        summary:
          "The job's log as text; with follow=1, server-sent events (`log` with a JSON string, then `end` with the job) until it ends",
        security,
        params: IdParams,
        querystring: BuildLogQuery,
        response: { 200: Type.String(), 429: ErrorBody, ...errors },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      await builds.get(id);
      const path = buildLogPath(deps.dataDir, id);
      const offset = request.query.offset ?? 0;
      if (!request.query.follow) {
        reply.type('text/plain; charset=utf-8');
        if (!existsSync(path)) return reply.send('');
        return reply.send(createReadStream(path, { start: offset }));
      }
      const principal = principalOf(request);
      const owner = principal.userId ? `user:${principal.userId}` : `token:${principal.tokenId}`;
      followers.admit(owner);
      reply.hijack();
      reply.raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        'x-accel-buffering': 'no',
      });
      followers
        .follow(id, path, offset, reply.raw, owner, () => builds.get(id).catch(() => undefined))
        .catch((err: Error) => {
          request.log.warn({ err, build: id }, 'following a build log failed');
          reply.raw.destroy();
        });
      return reply;
    },
  );
}
