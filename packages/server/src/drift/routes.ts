import { driftSchemaProblems, ErrorBody, OpvicAgentPayload } from '@flotilla/protocol';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type Static, Type } from 'typebox';
import { authenticated, authorize, principalOf } from '../auth/hook.ts';
import { Forbidden, Invalid, Unauthorized } from '../errors.ts';
import type { FeatureDeps } from '../http/feature-deps.ts';
import { createDriftService } from './service.ts';

/** One report is one subject; 1 MiB holds the schema's 1,000 versions with room to spare. */
export const maxReportBytes = 1024 * 1024;
export const maxPageSize = 500;

const Id = Type.String({ minLength: 1, maxLength: 253 });
const DriftQuery = Type.Object({
  environment: Type.Optional(Id),
  place: Type.Optional(Id),
  subject: Type.Optional(Id),
  limit: Type.Integer({ minimum: 1, maximum: maxPageSize, default: 100 }),
  after: Type.Optional(Type.String({ minLength: 1, maxLength: 2048, description: 'the `next` of the previous page' })),
});
type DriftQuery = Static<typeof DriftQuery>;
const WhereQuery = Type.Object({ subject: Id, version: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })) });
type WhereQuery = Static<typeof WhereQuery>;

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const DriftItem = Type.Object({
  environment: Type.String(),
  place: Type.String({ description: 'the reporting agent id (cluster or host)' }),
  subject: Type.String(),
  namespace: Nullable(Type.String()),
  tags: Type.Record(Type.String(), Type.String()),
  versions: Type.Array(
    Type.Object({
      runningVersion: Type.String(),
      resourceCount: Type.Integer(),
      resourceKind: Type.Optional(Type.String()),
      extractedFrom: Type.Optional(Type.String()),
    }),
  ),
  upstream: Nullable(
    Type.Object({
      provider: Type.String(),
      strategy: Type.Optional(Type.String()),
      repo: Type.Optional(Type.String()),
      chart: Type.Optional(Type.String()),
      extraction: Type.Optional(
        Type.Object({ regex: Type.Object({ pattern: Type.String(), result: Type.Optional(Type.String()) }) }),
      ),
      constraint: Type.Optional(Type.String()),
    }),
  ),
  reportedAt: Type.String({ format: 'date-time' }),
  changedAt: Type.String({ format: 'date-time', description: 'when the reported content last changed' }),
  staleSince: Nullable(Type.String({ format: 'date-time', description: 'set once the place stopped reporting' })),
});
const DriftPage = Type.Object({ items: Type.Array(DriftItem), next: Nullable(Type.String()) });
const DriftWhere = Type.Object({ items: Type.Array(DriftItem) });
const Received = Type.Object({ message: Type.String() });

/**
 * Opvic agents report with a Flotilla agent token (or an instance credential): the report lands in the
 * credential's environment. Admins and viewers read; they may not write reports.
 */
function authorizeReporter(deps: FeatureDeps) {
  return async (request: FastifyRequest) => {
    if (request.viaSession) throw new Unauthorized('drift reports take an agent token in "Authorization: Bearer"');
    const principal = await deps.tokens.authenticate(request.headers.authorization);
    if (principal.role !== 'agent')
      throw new Forbidden(`drift reports take agent tokens; the token "${principal.name}" has ${principal.role}`);
    if (!principal.environment)
      throw new Forbidden(`the agent token "${principal.name}" is not bound to an environment`);
    request.principal = principal;
  };
}

export async function driftRoutes(app: FastifyInstance, deps: FeatureDeps): Promise<void> {
  const drift = createDriftService({ db: deps.db });
  let stopExpiry: (() => Promise<void>) | undefined;
  app.addHook('onReady', async () => {
    stopExpiry = drift.startExpiry((err) => deps.logger.warn({ err }, 'drift report expiry failed'));
  });
  app.addHook('onClose', async () => {
    await stopExpiry?.();
  });

  const security = [{ bearer: [] }];
  const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody };
  const tags = ['drift'];

  // Opvic requires its token on every /api/v1alpha1 route; here any valid Flotilla credential.
  app.get(
    '/api/v1alpha1/ping',
    {
      onRequest: authenticated(deps.tokens),
      schema: { tags, summary: 'Opvic-compatible liveness check: answers `pong`', security },
    },
    async (_request, reply) => reply.type('text/plain; charset=utf-8').send('pong'),
  );

  app.post<{ Body: OpvicAgentPayload }>(
    '/api/v1alpha1/agents',
    {
      // Before the body is read: an unauthenticated sender learns nothing about its payload.
      onRequest: authorizeReporter(deps),
      bodyLimit: maxReportBytes,
      // Refused below with every problem as `<field path>: <reason>`, as trackers are.
      attachValidation: true,
      schema: {
        tags,
        summary: "Opvic-compatible report of one subject's running versions from one agent (cluster or host)",
        security,
        body: OpvicAgentPayload,
        response: { 202: Received, ...errors, 413: ErrorBody },
      },
    },
    async (request, reply) => {
      if (request.validationError) {
        const problems = driftSchemaProblems(OpvicAgentPayload, request.body);
        throw new Invalid(problems.length > 0 ? problems.join('; ') : request.validationError.message);
      }
      const environment = principalOf(request).environment as string;
      await drift.ingest(environment, request.body);
      return reply.status(202).send({ message: 'data received' });
    },
  );

  const viewer = authorize(deps.tokens, 'viewer');
  app.get<{ Querystring: DriftQuery }>(
    '/api/v1/drift',
    {
      preHandler: viewer,
      schema: {
        tags,
        summary: 'Reported subjects per environment and place, ordered by (environment, place, subject)',
        security,
        querystring: DriftQuery,
        response: { 200: DriftPage, ...errors },
      },
    },
    async (request) => drift.list(request.query),
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
}
