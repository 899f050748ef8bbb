import type { Server } from 'node:http';
import { AgentLogAccepted, AgentLogBatch, ErrorBody, LogPage, LogQuery } from '@flotilla/protocol';
import type { FastifyInstance } from 'fastify';
import { agentScopeOf, authorize, authorizeAgent } from '../auth/hook.ts';
import type { FeatureDeps } from '../http/feature-deps.ts';
import { type FollowOptions, LogHub } from './follow.ts';
import { createLogService, filterOf } from './service.ts';

export interface LogRouteDeps extends FeatureDeps {
  /** Keepalive and backlog bounds of follow streams (tests shorten them). */
  follow?: FollowOptions;
  /** How often old lines are deleted. */
  pruneIntervalMs?: number;
}

const hubs = new WeakMap<Server, LogHub>();

/** How many follow streams are open on this server (for tests and diagnostics). */
export function logFollowers(server: Server): number {
  return hubs.get(server)?.size ?? 0;
}

export async function logsRoutes(app: FastifyInstance, deps: LogRouteDeps): Promise<void> {
  const hub = new LogHub(deps.follow);
  hubs.set(app.server, hub);
  const service = createLogService({
    db: deps.db,
    dialect: deps.dialect,
    retentionMs: deps.config.logRetentionMs,
    hub,
  });

  let pruning: Promise<unknown> = Promise.resolve();
  const prune = () => {
    pruning = service
      .prune()
      .then((n) => {
        if (n > 0) deps.logger.info({ deleted: n }, 'deleted log lines past their retention');
      })
      .catch((err: Error) => deps.logger.warn({ err }, 'log retention failed'));
  };
  let timer: NodeJS.Timeout | undefined;
  app.addHook('onReady', async () => {
    prune();
    timer = setInterval(prune, deps.pruneIntervalMs ?? 600_000);
    timer.unref();
  });
  // Follow streams never end on their own: end them before the server waits for open requests.
  app.addHook('preClose', (done) => {
    hub.closeAll();
    done();
  });
  app.addHook('onClose', async () => {
    clearInterval(timer);
    service.stop();
    hub.closeAll();
    await pruning;
  });

  const security = [{ bearer: [] }];
  const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody };

  app.post<{ Body: AgentLogBatch }>(
    '/api/v1/agent/logs',
    {
      preHandler: authorizeAgent(deps.tokens),
      // 5000 lines of a few hundred bytes each, with room for longer ones.
      bodyLimit: 8 * 1024 * 1024,
      schema: {
        tags: ['agent', 'logs'],
        summary: "Upload a batch of this instance's service log lines",
        security,
        body: AgentLogBatch,
        response: { 200: AgentLogAccepted, 413: ErrorBody, ...errors },
      },
    },
    async (request) => {
      const result = await service.ingest(agentScopeOf(request), request.body);
      deps.metrics.agentLogLines.inc({ result: 'stored' }, result.accepted);
      if (request.body.dropped) deps.metrics.agentLogLines.inc({ result: 'dropped_by_agent' }, request.body.dropped);
      return result;
    },
  );

  app.get<{ Querystring: LogQuery }>(
    '/api/v1/logs',
    {
      preHandler: authorize(deps.tokens, 'viewer'),
      schema: {
        tags: ['logs'],
        summary: 'Search service log lines, newest first; with follow=1, a server-sent-event stream of new ones',
        security,
        querystring: LogQuery,
        response: { 200: LogPage, ...errors },
      },
    },
    async (request, reply) => {
      if (!request.query.follow) return service.search(request.query);
      const filter = filterOf(request.query);
      reply.hijack();
      reply.raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        'x-accel-buffering': 'no',
      });
      hub.follow(filter, reply.raw);
      return reply;
    },
  );
}
