import type { Server } from 'node:http';
import { AgentLogAccepted, AgentLogBatch, ErrorBody, LogPage, LogQuery } from '@flotilla/protocol';
import type { FastifyInstance } from 'fastify';
import { agentScopeOf, authorize, authorizeAgent, principalOf } from '../auth/hook.ts';
import { clusterFor } from '../cluster/cluster.ts';
import type { FeatureDeps } from '../http/feature-deps.ts';
import { uploadScope } from '../identity/scope.ts';
import { QuotaExceeded, UploadQuota } from '../quota/upload-quota.ts';
import { linkLogHub } from './cluster-follow.ts';
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

/** Bytes held for follow streams whose readers are not keeping up (for tests and diagnostics). */
export function logFollowPendingBytes(server: Server): number {
  return hubs.get(server)?.pendingBytes ?? 0;
}

export async function logsRoutes(app: FastifyInstance, deps: LogRouteDeps): Promise<void> {
  const hub = new LogHub({ maxPerOwner: deps.config.logFollowMax, ...deps.follow });
  hubs.set(app.server, hub);
  // Per instance: the enrolled credential's, else the one the batch names within the token's environment.
  const quota = new UploadQuota({ bytes: deps.config.logQuotaBytes, lines: deps.config.logQuotaLines }, 60_000);
  const service = createLogService({
    db: deps.db,
    dialect: deps.dialect,
    retentionMs: deps.config.logRetentionMs,
    hub,
    ...(deps.commitDurably ? { commit: deps.commitDurably } : {}),
    ...(deps.writeOne ? { writeOne: deps.writeOne } : {}),
  });

  // Lines uploaded through other replicas reach this one's followers too.
  const unlink = linkLogHub(hub, clusterFor(deps.db).bus, deps.db, deps.logger);

  let pruning: Promise<unknown> = Promise.resolve();
  const leader = clusterFor(deps.db).leader;
  const prune = () => {
    // One replica deletes for all.
    if (!leader.isLeader()) return;
    pruning = service
      .prune()
      .then((n) => {
        if (n > 0) deps.logger.info({ deleted: n }, 'deleted log lines past their retention');
      })
      .catch((err: Error) => deps.logger.warn({ err }, 'log retention failed'));
  };
  let timer: NodeJS.Timeout | undefined;
  // A replica that takes over the lead prunes at once rather than at its next tick.
  const unlead = leader.onChange((now) => {
    if (now && timer) prune();
  });
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
    unlead();
    unlink();
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
        response: { 200: AgentLogAccepted, 413: ErrorBody, 429: ErrorBody, ...errors },
      },
    },
    async (request) => {
      const scope = agentScopeOf(request);
      const check = await uploadScope(deps.db, scope, 'the log batch');
      check(
        request.body.instanceId,
        request.body.lines.map((l) => l.service),
      );
      const instance = request.principal?.instanceId ?? `${scope.environment}/${request.body.instanceId}`;
      let bytes = 0;
      for (const line of request.body.lines) bytes += Buffer.byteLength(line.message);
      const retryAfter = quota.take(instance, { bytes, lines: request.body.lines.length });
      if (retryAfter > 0) {
        deps.metrics.agentUploadsRefused.inc({ kind: 'logs' });
        throw new QuotaExceeded(
          `instance "${request.principal?.instanceId ?? request.body.instanceId}" uploaded more log lines than its quota; retry in ${retryAfter} s`,
          retryAfter,
        );
      }
      const result = await service.ingest(scope, request.body);
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
        response: { 200: LogPage, 429: ErrorBody, ...errors },
      },
    },
    async (request, reply) => {
      if (!request.query.follow) return service.search(request.query);
      const filter = filterOf(request.query);
      const principal = principalOf(request);
      const owner = principal.userId ? `user:${principal.userId}` : `token:${principal.tokenId}`;
      hub.admit(owner);
      reply.hijack();
      reply.raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        'x-accel-buffering': 'no',
      });
      hub.follow(filter, reply.raw, owner);
      return reply;
    },
  );
}
