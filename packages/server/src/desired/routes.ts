import type { Server } from 'node:http';
import {
  DesiredDiff,
  DesiredDiffQuery,
  DesiredHistory,
  DesiredHistoryQuery,
  DesiredPatch,
  DesiredQuery,
  DesiredRevision,
  DesiredRollback,
  Environment,
  EnvironmentCreate,
  EnvironmentList,
  EnvironmentParams,
  EnvironmentPatch,
  ErrorBody,
  Instance,
  InstanceList,
  InstanceQuery,
  MarkTestedRequest,
  MarkTestedResponse,
} from '@flotilla/protocol';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { authorize } from '../auth/hook.ts';
import type { Principal } from '../auth/tokens.ts';
import { loadOrCreateSigningKey, type SigningKeyPair } from '../catalog/signing.ts';
import { clusterFor } from '../cluster/cluster.ts';
import type { FeatureDeps } from '../http/feature-deps.ts';
import { agentRoutes } from './agent-routes.ts';
import { type CatalogLookup, catalogLookup } from './catalog-lookup.ts';
import { createInstanceService, defaultInstanceExpiryMs } from './instances-service.ts';
import { DesiredNotifier } from './long-poll.ts';
import { createDesiredService } from './service.ts';
import { createDesiredSigner } from './signed-desired.ts';

export interface DesiredRouteDeps extends FeatureDeps {
  /** The catalog; the real one unless a test passes another. */
  catalog?: CatalogLookup;
  /** How long an instance may stay silent before it is shown as stale. */
  instanceExpiryMs?: number;
}

const notifiers = new WeakMap<Server, DesiredNotifier>();

/** How many agent long polls are waiting on this server (for tests and diagnostics). */
export function longPollWaiters(server: Server): number {
  return notifiers.get(server)?.waiting ?? 0;
}

const cleanupIntervalMs = 3_600_000;

export async function desiredRoutes(app: FastifyInstance, deps: DesiredRouteDeps): Promise<void> {
  const lookup = deps.catalog ?? catalogLookup;
  const notifier = new DesiredNotifier();
  notifiers.set(app.server, notifier);
  // Changes made through any replica wake the polls parked on this one.
  const unlink = notifier.link(clusterFor(deps.db).bus);
  const service = createDesiredService({ db: deps.db, lookup, notifier });
  const instances = createInstanceService({
    db: deps.db,
    expiryMs: deps.instanceExpiryMs ?? defaultInstanceExpiryMs,
    ...(deps.commitDurably ? { commit: deps.commitDurably } : {}),
    ...(deps.writeOne ? { writeOne: deps.writeOne } : {}),
  });

  // Held long polls must end before the server waits for open requests, so release them in preClose.
  app.addHook('preClose', (done) => {
    notifier.close();
    done();
  });
  const cleanup = setInterval(() => {
    // One replica expires instances for all.
    if (!clusterFor(deps.db).leader.isLeader()) return;
    instances.expire().catch((err: Error) => deps.logger.warn({ err }, 'instance expiry failed'));
  }, cleanupIntervalMs);
  cleanup.unref();
  app.addHook('onClose', async () => {
    clearInterval(cleanup);
    unlink();
    notifier.close();
  });

  const security = [{ bearer: [] }];
  const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody };
  const viewer = authorize(deps.tokens, 'viewer');
  const developer = authorize(deps.tokens, 'developer');
  const admin = authorize(deps.tokens, 'admin');
  const who = (request: FastifyRequest) => request.principal as Principal;
  const tags = ['desired'];
  type EnvParams = { Params: EnvironmentParams };

  app.post<{ Body: EnvironmentCreate }>(
    '/api/v1/environments',
    {
      preHandler: developer,
      schema: {
        tags,
        summary: 'Create an environment',
        security,
        body: EnvironmentCreate,
        response: { 201: Environment, ...errors },
      },
    },
    async (request, reply) => reply.code(201).send(await service.createEnvironment(who(request), request.body)),
  );
  app.get(
    '/api/v1/environments',
    {
      preHandler: viewer,
      schema: { tags, summary: 'List environments', security, response: { 200: EnvironmentList, ...errors } },
    },
    async () => ({ environments: await service.listEnvironments() }),
  );
  app.get<EnvParams>(
    '/api/v1/environments/:env',
    {
      preHandler: viewer,
      schema: {
        tags,
        summary: 'One environment',
        security,
        params: EnvironmentParams,
        response: { 200: Environment, ...errors },
      },
    },
    async (request) => service.getEnvironment(request.params.env),
  );
  app.patch<EnvParams & { Body: EnvironmentPatch }>(
    '/api/v1/environments/:env',
    {
      preHandler: developer,
      schema: {
        tags,
        summary: "Change an environment's tested gate",
        security,
        params: EnvironmentParams,
        body: EnvironmentPatch,
        response: { 200: Environment, ...errors },
      },
    },
    async (request) => service.updateEnvironment(who(request), request.params.env, request.body),
  );
  app.delete<EnvParams>(
    '/api/v1/environments/:env',
    {
      preHandler: admin,
      schema: {
        tags,
        summary: 'Delete an environment with its desired-list history (restorable for the trash retention)',
        security,
        params: EnvironmentParams,
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (request, reply) => {
      await service.deleteEnvironment(who(request), request.params.env);
      return reply.code(204).send();
    },
  );

  app.get<EnvParams & { Querystring: DesiredQuery }>(
    '/api/v1/environments/:env/desired',
    {
      preHandler: viewer,
      schema: {
        tags,
        summary: 'The current desired-version list (or ?revision=N)',
        security,
        params: EnvironmentParams,
        querystring: DesiredQuery,
        response: { 200: DesiredRevision, ...errors },
      },
    },
    async (request) => service.getDesired(request.params.env, request.query.revision),
  );
  app.patch<EnvParams & { Body: DesiredPatch }>(
    '/api/v1/environments/:env/desired',
    {
      preHandler: developer,
      schema: {
        tags,
        summary: 'Change the desired list: one atomic edit, one new revision',
        security,
        params: EnvironmentParams,
        body: DesiredPatch,
        response: { 200: DesiredRevision, ...errors },
      },
    },
    async (request) => service.editDesired(who(request), request.params.env, request.body),
  );
  app.get<EnvParams & { Querystring: DesiredHistoryQuery }>(
    '/api/v1/environments/:env/desired/history',
    {
      preHandler: viewer,
      schema: {
        tags,
        summary: 'Revisions of the desired list, newest first',
        security,
        params: EnvironmentParams,
        querystring: DesiredHistoryQuery,
        response: { 200: DesiredHistory, ...errors },
      },
    },
    async (request) => ({ revisions: await service.history(request.params.env, request.query) }),
  );
  app.get<EnvParams & { Querystring: DesiredDiffQuery }>(
    '/api/v1/environments/:env/desired/diff',
    {
      preHandler: viewer,
      schema: {
        tags,
        summary: 'What changed between two revisions (to defaults to the current one)',
        security,
        params: EnvironmentParams,
        querystring: DesiredDiffQuery,
        response: { 200: DesiredDiff, ...errors },
      },
    },
    async (request) => service.diff(request.params.env, request.query.from, request.query.to),
  );
  app.post<EnvParams & { Body: DesiredRollback }>(
    '/api/v1/environments/:env/desired/rollback',
    {
      preHandler: developer,
      schema: {
        tags,
        summary: "Make an old revision's list current again, as a new revision",
        security,
        params: EnvironmentParams,
        body: DesiredRollback,
        response: { 200: DesiredRevision, ...errors },
      },
    },
    async (request) => service.rollback(who(request), request.params.env, request.body),
  );
  app.post<EnvParams & { Body: MarkTestedRequest }>(
    '/api/v1/environments/:env/desired/mark-tested',
    {
      // The body is optional: no body means the current revision.
      preValidation: async (request) => {
        request.body ??= {};
      },
      preHandler: developer,
      schema: {
        tags,
        summary: 'Mark every service@version of a revision (default current) as tested here',
        security,
        params: EnvironmentParams,
        body: MarkTestedRequest,
        response: { 200: MarkTestedResponse, ...errors },
      },
    },
    async (request) => service.markTested(who(request), request.params.env, request.body.revision),
  );

  app.get<{ Querystring: InstanceQuery }>(
    '/api/v1/instances',
    {
      preHandler: viewer,
      schema: {
        tags,
        summary: 'Instances that report their state, with their services',
        security,
        querystring: InstanceQuery,
        response: { 200: InstanceList, ...errors },
      },
    },
    async (request) => instances.list(request.query),
  );
  app.get<{ Params: { id: string } }>(
    '/api/v1/instances/:id',
    {
      preHandler: viewer,
      schema: {
        tags,
        summary: 'One instance',
        security,
        params: Type.Object({ id: Type.String() }),
        response: { 200: Instance, ...errors },
      },
    },
    async (request) => instances.get(request.params.id),
  );

  let key: SigningKeyPair | undefined;
  const signer = createDesiredSigner({ key: () => (key ??= loadOrCreateSigningKey(deps.dataDir)) });
  const threadRoutes = deps.threadRoutes;
  await agentRoutes(app, {
    tokens: deps.tokens,
    service,
    instances,
    notifier,
    signer,
    logger: deps.logger,
    threadRoutes,
  });
}
