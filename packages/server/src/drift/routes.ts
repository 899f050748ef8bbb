import {
  DriftItem,
  DriftPage,
  DriftReport,
  DriftReportAnswer,
  DriftSubjectDetail,
  driftReportLimits,
  driftSchemaProblems,
  ErrorBody,
} from '@flotilla/protocol';
import type { FastifyInstance } from 'fastify';
import { type Static, Type } from 'typebox';
import { authorize } from '../auth/hook.ts';
import { clusterFor } from '../cluster/cluster.ts';
import { Invalid } from '../errors.ts';
import type { FeatureDeps } from '../http/feature-deps.ts';
import { opvicRoutes } from './opvic-routes.ts';
import { authorizeReporter, checkPlace } from './reporter-auth.ts';
import { createDriftService, parseTagFilters } from './service.ts';
import { behindFilters } from './store-queries.ts';
import { driftThreadRoutes } from './thread-reports.ts';

export const maxPageSize = 500;

const Id = Type.String({ minLength: 1, maxLength: 253 });
const DriftQuery = Type.Object({
  environment: Type.Optional(Id),
  place: Type.Optional(Id),
  agent: Type.Optional({ ...Id, description: 'the same as place (Opvic calls places agents)' }),
  subject: Type.Optional(Id),
  tag: Type.Optional(
    Type.Array(Type.String({ minLength: 2, maxLength: 320 }), {
      maxItems: 16,
      description: '`key:value`, repeatable: every one must be among the place tags',
    }),
  ),
  behind: Type.Optional(
    Type.Enum([...behindFilters], {
      description: '`patch|minor|major`: at least that far behind; `current`: up to date; `unknown`: not comparable',
    }),
  ),
  stale: Type.Optional(Type.Boolean({ description: 'only rows whose place stopped reporting (true) or not (false)' })),
  limit: Type.Integer({ minimum: 1, maximum: maxPageSize, default: 100 }),
  after: Type.Optional(Type.String({ minLength: 1, maxLength: 2048, description: 'the `next` of the previous page' })),
});
type DriftQuery = Static<typeof DriftQuery>;
const WhereQuery = Type.Object({ subject: Id, version: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })) });
type WhereQuery = Static<typeof WhereQuery>;
const DriftWhere = Type.Object({ items: Type.Array(DriftItem) });

export async function driftRoutes(app: FastifyInstance, deps: FeatureDeps): Promise<void> {
  const drift = createDriftService({
    db: deps.db,
    ...(deps.commitPipelined ? { commit: deps.commitPipelined } : {}),
    staleAfterMs: deps.config.driftStaleAfterMs,
    removeAfterMs: deps.config.driftRemoveAfterMs,
  });
  let stopExpiry: (() => Promise<void>) | undefined;
  app.addHook('onReady', async () => {
    const leader = clusterFor(deps.db).leader;
    stopExpiry = drift.startExpiry(
      (err) => deps.logger.warn({ err }, 'drift report expiry failed'),
      undefined,
      () => leader.isLeader(),
    );
  });
  app.addHook('onClose', async () => {
    await drift.close();
    await stopExpiry?.();
  });

  const security = [{ bearer: [] }];
  const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody };
  const tags = ['drift'];
  await opvicRoutes(app, deps, drift);
  for (const route of driftThreadRoutes(deps, drift)) deps.threadRoutes?.add(route);

  app.post<{ Body: DriftReport }>(
    '/api/v1/drift/reports',
    {
      // Before the body is read: an unauthenticated sender learns nothing about its payload.
      onRequest: authorizeReporter(deps),
      bodyLimit: driftReportLimits.bodyBytes,
      attachValidation: true,
      schema: {
        tags,
        summary:
          "One place's subjects (complete: every one, so the others are removed), or a heartbeat without subjects",
        security,
        body: DriftReport,
        response: { 202: DriftReportAnswer, ...errors, 413: ErrorBody },
      },
    },
    async (request, reply) => {
      if (request.validationError) {
        const problems = driftSchemaProblems(DriftReport, request.body);
        throw new Invalid(problems.length > 0 ? problems.join('; ') : request.validationError.message);
      }
      const environment = await checkPlace(deps, request, request.body.agentId);
      return reply.status(202).send(await drift.ingestReport(environment, request.body));
    },
  );

  const viewer = authorize(deps.tokens, 'viewer');
  app.get<{ Querystring: DriftQuery }>(
    '/api/v1/drift',
    {
      preHandler: viewer,
      schema: {
        tags,
        summary:
          'Reported subjects per environment and place with how far behind each is, by (environment, place, subject)',
        security,
        querystring: DriftQuery,
        response: { 200: DriftPage, ...errors },
      },
    },
    async (request) => {
      const { agent, place, tag, ...rest } = request.query;
      if (agent !== undefined && place !== undefined && agent !== place)
        throw new Invalid('place and agent name the same thing; give one');
      return drift.list({ ...rest, place: place ?? agent, tags: parseTagFilters(tag) });
    },
  );

  app.get<{ Querystring: WhereQuery }>(
    '/api/v1/drift/where',
    {
      preHandler: viewer,
      schema: {
        tags,
        summary: 'The places running a subject (optionally one version of it), with the matching versions',
        security,
        querystring: WhereQuery,
        response: { 200: DriftWhere, ...errors },
      },
    },
    async (request) => drift.where(request.query.subject, request.query.version),
  );

  app.get<{ Params: { subject: string } }>(
    '/api/v1/drift/subjects/:subject',
    {
      preHandler: viewer,
      schema: {
        tags,
        summary: 'Every place running a subject, with each running version compared to its upstream',
        security,
        params: Type.Object({ subject: Id }),
        response: { 200: DriftSubjectDetail, ...errors, 404: ErrorBody },
      },
    },
    async (request) => drift.detail(request.params.subject),
  );
}
