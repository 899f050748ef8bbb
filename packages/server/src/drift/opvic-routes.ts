import { driftSchemaProblems, ErrorBody, OpvicAgentPayload } from '@flotilla/protocol';
import type { FastifyInstance } from 'fastify';
import { type Static, Type } from 'typebox';
import { authenticated, authorize } from '../auth/hook.ts';
import { Invalid } from '../errors.ts';
import type { FeatureDeps } from '../http/feature-deps.ts';
import { maxReportBytes } from './limits.ts';
import { authorizeReporter, checkPlace } from './reporter-auth.ts';
import type { DriftService } from './service.ts';

const Id = Type.String({ minLength: 1, maxLength: 253 });
const AgentParams = Type.Object({ agent: Id });
const SubjectParams = Type.Object({ agent: Id, id: Id });
type SubjectParams = Static<typeof SubjectParams>;
const EnvQuery = Type.Object({
  environment: Type.Optional({
    ...Id,
    description: 'when the agent id reports in several environments (default: the latest)',
  }),
});
type EnvQuery = Static<typeof EnvQuery>;
const Received = Type.Object({ message: Type.String() });

// Opvic's read shapes are documented, not enforced on output: the handlers build them whole.
const OpvicSubjectVersion = Type.Object({}, { additionalProperties: true, description: "Opvic's SubjectVersion" });
const OpvicVersionInfos = Type.Object({}, { additionalProperties: true, description: "Opvic's VersionInfos" });

/** Opvic's API (`/api/v1alpha1`), so its agents and its users' scripts work unchanged. */
export async function opvicRoutes(app: FastifyInstance, deps: FeatureDeps, drift: DriftService): Promise<void> {
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
      await drift.ingest(await checkPlace(deps, request, request.body.agentId), request.body);
      return reply.status(202).send({ message: 'data received' });
    },
  );

  const viewer = authorize(deps.tokens, 'viewer');
  app.get<{ Params: { agent: string }; Querystring: EnvQuery }>(
    '/api/v1alpha1/agents/:agent',
    {
      preHandler: viewer,
      schema: {
        tags,
        summary: "Opvic-compatible: an agent's subjects as its payload's `version` objects",
        security,
        params: AgentParams,
        querystring: EnvQuery,
        response: { 200: Type.Array(OpvicSubjectVersion), ...errors, 404: ErrorBody },
      },
    },
    async (request) => drift.opvicAgent(request.params.agent, request.query.environment),
  );

  app.get<{ Params: SubjectParams; Querystring: EnvQuery }>(
    '/api/v1alpha1/agents/:agent/:id',
    {
      preHandler: viewer,
      schema: {
        tags,
        summary: "Opvic-compatible: one subject of an agent as its payload's `version` object",
        security,
        params: SubjectParams,
        querystring: EnvQuery,
        response: { 200: OpvicSubjectVersion, ...errors, 404: ErrorBody },
      },
    },
    async (request) => drift.opvicSubject(request.params.agent, request.params.id, request.query.environment),
  );

  app.get<{ Params: SubjectParams; Querystring: EnvQuery }>(
    '/api/v1alpha1/agents/:agent/:id/versions',
    {
      preHandler: viewer,
      schema: {
        tags,
        summary: "Opvic-compatible: one subject of an agent compared with its upstream (Opvic's VersionInfos)",
        security,
        params: SubjectParams,
        querystring: EnvQuery,
        response: { 200: OpvicVersionInfos, ...errors, 404: ErrorBody },
      },
    },
    async (request) => drift.opvicVersions(request.params.agent, request.params.id, request.query.environment),
  );
}
