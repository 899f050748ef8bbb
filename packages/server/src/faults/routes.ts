import { ErrorBody, FaultAccepted, FaultDetail, FaultIdParams, FaultList, FaultQuery } from '@flotilla/protocol';
import type { FastifyInstance } from 'fastify';
import { agentScopeOf, authorize, authorizeAgent } from '../auth/hook.ts';
import { getService } from '../catalog/store.ts';
import { clusterFor } from '../cluster/cluster.ts';
import { errorBody } from '../http/error-handler.ts';
import type { FeatureDeps } from '../http/feature-deps.ts';
import { detachedBody } from '../http/request-body.ts';
import { uploadScope } from '../identity/scope.ts';
import { QuotaExceeded, UploadQuota } from '../quota/upload-quota.ts';
import { createFaultService, defaultMaxArchiveBytes } from './service.ts';

export const retentionIntervalMs = 10 * 60_000;
/** The `service` label of fault reports for services the catalog does not know. */
export const unknownServiceLabel = '(unknown)';

export interface FaultRouteOptions {
  /** Upload limit; tests pass a small one. */
  maxArchiveBytes?: number;
  now?: () => number;
}

export async function faultsRoutes(app: FastifyInstance, deps: FeatureDeps): Promise<void> {
  await registerFaultRoutes(app, deps, {});
}

/** The routes with their limits injectable (the plugin above uses the defaults). */
export function faultsRoutesWith(opts: FaultRouteOptions) {
  return (app: FastifyInstance, deps: FeatureDeps) => registerFaultRoutes(app, deps, opts);
}

async function registerFaultRoutes(app: FastifyInstance, deps: FeatureDeps, opts: FaultRouteOptions): Promise<void> {
  const maxArchiveBytes = opts.maxArchiveBytes ?? defaultMaxArchiveBytes;
  const faults = createFaultService({
    db: deps.db,
    dataDir: deps.dataDir,
    blobs: deps.blobs,
    retentionMs: deps.config.faultRetentionMs,
    maxCount: deps.config.faultMaxCount,
    maxArchiveBytes,
    now: opts.now,
  });

  // One retention run at a time; close waits for the one under way so the store is not closed under it.
  let running: Promise<unknown> = Promise.resolve();
  const retain = (group?: { environment: string; service: string }) => {
    running = running
      .then(() => faults.applyRetention(group))
      .catch((err: Error) => deps.logger.warn({ err }, 'fault report retention failed'));
    return running;
  };
  // The periodic pass runs on one replica; an upload still trims its own group wherever it lands.
  const leader = clusterFor(deps.db).leader;
  const timer = setInterval(() => {
    if (leader.isLeader()) void retain();
  }, retentionIntervalMs);
  timer.unref();
  let ready = false;
  // A replica that takes over the lead runs the pass at once rather than at its next tick.
  const unlead = leader.onChange((now) => {
    if (now && ready) void retain();
  });
  app.addHook('onReady', async () => {
    ready = true;
    if (leader.isLeader()) void retain();
  });
  app.addHook('onClose', async () => {
    clearInterval(timer);
    unlead();
    await running;
  });

  // Fault archives arrive as raw streams; this parser is scoped to this plugin's routes.
  // Detached: a refusal mid-upload reaches the client and its connection is not left open.
  app.addContentTypeParser(['application/gzip', 'application/x-gzip'], (_request, payload, done) =>
    done(null, detachedBody(payload)),
  );

  // Reports per instance per hour: the enrolled credential's, else the one fault.json names.
  const quota = new UploadQuota({ reports: deps.config.faultQuota }, 3_600_000);
  const admit = (instance: string, label: string) => {
    const retryAfter = quota.take(instance, { reports: 1 });
    if (retryAfter === 0) return;
    deps.metrics.agentUploadsRefused.inc({ kind: 'faults' });
    throw new QuotaExceeded(
      `instance "${label}" uploaded more fault reports than its quota; retry in ${retryAfter} s`,
      retryAfter,
    );
  };

  const viewer = authorize(deps.tokens, 'viewer');
  const security = [{ bearer: [] }];
  const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody };
  const tags = ['faults'];

  app.post(
    '/api/v1/agent/faults',
    {
      preHandler: authorizeAgent(deps.tokens),
      bodyLimit: maxArchiveBytes,
      schema: {
        tags,
        summary: 'Upload a fault report: the .tar.gz is the raw body (Content-Type: application/gzip)',
        security,
        response: { 201: FaultAccepted, ...errors, 413: ErrorBody, 429: ErrorBody },
      },
    },
    async (request, reply) => {
      const body = request.body as NodeJS.ReadableStream | undefined;
      if (!body || typeof (body as { pipe?: unknown }).pipe !== 'function') {
        return reply
          .status(415)
          .send(errorBody('invalid', 'send the fault archive as the body with Content-Type: application/gzip'));
      }
      const length = request.headers['content-length'];
      const scope = agentScopeOf(request);
      const check = await uploadScope(deps.db, scope, 'the fault report');
      const bound = request.principal?.instanceId;
      // A bound instance is refused before its body is read; otherwise once fault.json names it.
      if (bound) admit(bound, bound);
      const accepted = await faults.receive(
        { ...scope, check: (meta) => check(meta.instanceId, [meta.service]) },
        body,
        length ? Number(length) : undefined,
        bound ? undefined : (instanceId) => admit(`${scope.environment}/${instanceId}`, instanceId),
      );
      // Trimmed before answering, so a list right after the upload already keeps the per-service limit.
      await retain({ environment: accepted.environment, service: accepted.service });
      // /metrics is unauthenticated: only catalog services become label values, never agent-sent text.
      const known = await getService(deps.db, accepted.service);
      deps.metrics.faultReports.inc({ service: known ? accepted.service : unknownServiceLabel });
      return reply.status(201).send({ id: accepted.id });
    },
  );

  app.get<{ Querystring: FaultQuery }>(
    '/api/v1/faults',
    {
      preHandler: viewer,
      schema: {
        tags,
        summary: 'Fault reports, newest first',
        security,
        querystring: FaultQuery,
        response: { 200: FaultList, ...errors },
      },
    },
    async (request) => faults.list(request.query),
  );

  app.get<{ Params: FaultIdParams }>(
    '/api/v1/faults/:id',
    {
      preHandler: viewer,
      schema: {
        tags,
        summary: 'One fault report with the state and log tail',
        security,
        params: FaultIdParams,
        response: { 200: FaultDetail, ...errors },
      },
    },
    async (request) => faults.get(request.params.id),
  );

  app.get<{ Params: FaultIdParams }>(
    '/api/v1/faults/:id/archive',
    {
      preHandler: viewer,
      schema: {
        tags,
        summary: 'Download the fault archive (.tar.gz)',
        security,
        params: FaultIdParams,
        response: errors,
      },
    },
    async (request, reply) => {
      const archive = await faults.archive(request.params.id);
      reply.headers({
        'content-type': 'application/gzip',
        'content-length': archive.size,
        'content-disposition': `attachment; filename="${archive.fileName}"`,
      });
      return reply.send(await archive.open());
    },
  );
}
