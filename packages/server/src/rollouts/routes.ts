import {
  EnvironmentParams,
  ErrorBody,
  Rollout,
  RolloutList,
  RolloutListQuery,
  RolloutParams,
  RolloutStart,
} from '@flotilla/protocol';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { authorize } from '../auth/hook.ts';
import type { Principal } from '../auth/tokens.ts';
import { clusterFor } from '../cluster/cluster.ts';
import { agentNotifier } from '../desired/agent-routes.ts';
import { catalogLookup } from '../desired/catalog-lookup.ts';
import { createDesiredService } from '../desired/service.ts';
import type { FeatureDeps } from '../http/feature-deps.ts';
import { createRolloutService, type RolloutAction } from './service.ts';

export interface RolloutRouteDeps extends FeatureDeps {
  /** How often active rollouts are evaluated. */
  evaluateEveryMs?: number;
}

const actions: RolloutAction[] = ['pause', 'resume', 'approve', 'abort'];

export async function rolloutRoutes(app: FastifyInstance, deps: RolloutRouteDeps): Promise<void> {
  // The desired feature registers first; its notifier wakes the agents' long polls.
  const notifier = agentNotifier(app.server);
  const desired = createDesiredService({ db: deps.db, lookup: catalogLookup, notifier });
  const service = createRolloutService({ db: deps.db, desired, notify: (env) => notifier?.notify(env) });

  // One replica evaluates, so a wave is never started or judged twice.
  const leader = clusterFor(deps.db).leader;
  let running = false;
  const timer = setInterval(() => {
    if (running || !leader.isLeader()) return;
    running = true;
    service
      .evaluateNow()
      .catch((err: Error) => deps.logger.warn({ err }, 'rollout evaluation failed'))
      .finally(() => {
        running = false;
      });
  }, deps.evaluateEveryMs ?? 2000);
  timer.unref();
  app.addHook('onClose', async () => clearInterval(timer));

  const security = [{ bearer: [] }];
  const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody };
  const viewer = authorize(deps.tokens, 'viewer');
  const developer = authorize(deps.tokens, 'developer');
  const who = (request: FastifyRequest) => request.principal as Principal;
  const tags = ['rollouts'];

  app.post<{ Params: EnvironmentParams; Body: RolloutStart }>(
    '/api/v1/environments/:env/rollouts',
    {
      preHandler: developer,
      schema: {
        tags,
        summary: 'Start a staged rollout to a new desired revision',
        security,
        params: EnvironmentParams,
        body: RolloutStart,
        response: { 201: Rollout, ...errors },
      },
    },
    async (request, reply) => reply.code(201).send(await service.start(who(request), request.params.env, request.body)),
  );

  app.get<{ Params: EnvironmentParams; Querystring: RolloutListQuery }>(
    '/api/v1/environments/:env/rollouts',
    {
      preHandler: viewer,
      schema: {
        tags,
        summary: "An environment's rollouts, newest first (?active=true: only the active one)",
        security,
        params: EnvironmentParams,
        querystring: RolloutListQuery,
        response: { 200: RolloutList, ...errors },
      },
    },
    async (request) => ({ rollouts: await service.list(request.params.env, { active: request.query.active }) }),
  );

  app.get<{ Params: RolloutParams }>(
    '/api/v1/rollouts/:id',
    {
      preHandler: viewer,
      schema: {
        tags,
        summary: 'One rollout with per-wave counts and its history',
        security,
        params: RolloutParams,
        response: { 200: Rollout, ...errors },
      },
    },
    async (request) => service.get(request.params.id),
  );

  for (const action of actions) {
    app.post<{ Params: RolloutParams }>(
      `/api/v1/rollouts/:id/${action}`,
      {
        preHandler: developer,
        schema: {
          tags,
          summary: `${action[0]?.toUpperCase()}${action.slice(1)} a rollout`,
          security,
          params: RolloutParams,
          response: { 200: Rollout, ...errors },
        },
      },
      async (request) => service.act(who(request), request.params.id, action),
    );
  }
}
