import {
  driftSchemaProblems,
  ErrorBody,
  MeshCertificate,
  MeshCertificateRequest,
  MeshEnvironment,
  MeshEnvironmentList,
  MeshEnvironmentSettings,
  MeshPairSeries,
  MeshPeers,
  MeshSummaryAnswer,
  MeshSummaryReport,
  MeshView,
  meshLimits,
  meshPhases,
} from '@flotilla/protocol';
import { parseDuration } from '@flotilla/protocol/duration';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TSchema } from 'typebox';
import { type Static, Type } from 'typebox';
import { agentScopeOf, authorize, authorizeAgent, principalOf } from '../auth/hook.ts';
import { clusterFor } from '../cluster/cluster.ts';
import { Invalid } from '../errors.ts';
import type { FeatureDeps } from '../http/feature-deps.ts';
import { createMeshService } from './service.ts';

const EnvName = Type.String({ minLength: 1, maxLength: 63, description: 'Environment name' });
const Instance = Type.String({ minLength: 1, maxLength: 200 });
const Window = (fallback: string) =>
  Type.String({ minLength: 2, maxLength: 16, default: fallback, description: 'a duration: 15m, 1h, 1d' });
const ViewQuery = Type.Object({
  environment: EnvName,
  window: Window('15m'),
  phase: Type.Enum([...meshPhases], { default: 'request', description: 'the phase the pair matrix shows' }),
  limit: Type.Integer({ minimum: 1, maximum: meshLimits.pairs, default: meshLimits.pairs }),
});
type ViewQuery = Static<typeof ViewQuery>;
const PairQuery = Type.Object({ environment: EnvName, from: Instance, to: Instance, window: Window('1h') });
type PairQuery = Static<typeof PairQuery>;
const EnvParams = Type.Object({ environment: EnvName });

/** The window of a read, at least a minute and at most the retention. */
function windowMs(text: string, retentionMs: number): number {
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch (err) {
    throw new Invalid(`window: ${(err as Error).message}`);
  }
  if (ms < 60_000 || ms > retentionMs)
    throw new Invalid(`window: must be from 1m to the retention (${retentionMs / 3_600_000}h)`);
  return ms;
}

/** A body that failed its schema: 400 naming each field (`summaries[3].p50: …`). */
function checkBody(schema: TSchema, request: FastifyRequest): void {
  if (!request.validationError) return;
  const problems = driftSchemaProblems(schema, request.body);
  throw new Invalid(problems.length > 0 ? problems.slice(0, 5).join('; ') : request.validationError.message);
}

export async function meshRoutes(app: FastifyInstance, deps: FeatureDeps): Promise<void> {
  const mesh = createMeshService({
    db: deps.db,
    ...(deps.commitDurably ? { commit: deps.commitDurably } : {}),
    dataDir: deps.dataDir,
    retentionMs: deps.config.meshRetentionMs,
  });
  let stopRetention: (() => Promise<void>) | undefined;
  app.addHook('onReady', async () => {
    const leader = clusterFor(deps.db).leader;
    stopRetention = mesh.startRetention((err) => deps.logger.warn({ err }, 'mesh summary retention failed'), {
      when: () => leader.isLeader(),
    });
  });
  app.addHook('onClose', async () => {
    await stopRetention?.();
  });

  const security = [{ bearer: [] }];
  const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody };
  const viewer = authorize(deps.tokens, 'viewer');
  const agent = authorizeAgent(deps.tokens);
  const tags = ['mesh'];

  app.get(
    '/api/v1/mesh/environments',
    {
      preHandler: viewer,
      schema: {
        tags,
        summary: 'Every environment with whether its agents run the mesh',
        security,
        response: { 200: MeshEnvironmentList, ...errors },
      },
    },
    async () => ({ environments: await mesh.listSettings() }),
  );

  app.get<{ Params: { environment: string } }>(
    '/api/v1/mesh/environments/:environment',
    {
      preHandler: viewer,
      schema: {
        tags,
        summary: "An environment's mesh setting (off until switched on)",
        security,
        params: EnvParams,
        response: { 200: MeshEnvironment, ...errors, 404: ErrorBody },
      },
    },
    async (request) => mesh.settings(request.params.environment),
  );

  app.put<{ Params: { environment: string }; Body: MeshEnvironmentSettings }>(
    '/api/v1/mesh/environments/:environment',
    {
      preHandler: authorize(deps.tokens, 'admin'),
      schema: {
        tags,
        summary: "Switches the mesh on or off for an environment's agents (audited)",
        security,
        params: EnvParams,
        body: MeshEnvironmentSettings,
        response: { 200: MeshEnvironment, ...errors, 404: ErrorBody },
      },
    },
    async (request) => mesh.setSettings(principalOf(request), request.params.environment, request.body),
  );

  app.post<{ Body: MeshCertificateRequest }>(
    '/api/v1/agent/mesh/certificate',
    {
      preHandler: agent,
      attachValidation: true,
      schema: {
        tags: ['agent', ...tags],
        summary: "Signs the agent's mesh key: a short-lived certificate naming its instance and environment",
        security,
        body: MeshCertificateRequest,
        response: { 200: MeshCertificate, ...errors },
      },
    },
    async (request) => {
      checkBody(MeshCertificateRequest, request);
      return mesh.issueCertificate(agentScopeOf(request), request.body);
    },
  );

  app.get(
    '/api/v1/agent/mesh/peers',
    {
      preHandler: agent,
      schema: {
        tags: ['agent', ...tags],
        summary: "The environment's other mesh nodes to probe (empty, enabled false, when the mesh is off)",
        security,
        response: { 200: MeshPeers, ...errors },
      },
    },
    async (request) => mesh.peers(agentScopeOf(request)),
  );

  app.post<{ Body: MeshSummaryReport }>(
    '/api/v1/agent/mesh/summaries',
    {
      preHandler: agent,
      bodyLimit: meshLimits.bodyBytes,
      attachValidation: true,
      schema: {
        tags: ['agent', ...tags],
        summary: "This node's per-pair, per-phase, per-minute summaries and its event-loop lag",
        security,
        body: MeshSummaryReport,
        response: { 200: MeshSummaryAnswer, ...errors, 413: ErrorBody },
      },
    },
    async (request) => {
      checkBody(MeshSummaryReport, request);
      return mesh.report(agentScopeOf(request), request.body);
    },
  );

  app.get<{ Querystring: ViewQuery }>(
    '/api/v1/mesh',
    {
      preHandler: viewer,
      schema: {
        tags,
        summary: "An environment's mesh: nodes and states, the pair matrix over a window, partitions, flagged nodes",
        security,
        querystring: ViewQuery,
        response: { 200: MeshView, ...errors, 404: ErrorBody },
      },
    },
    async (request) => {
      const q = request.query;
      const ms = windowMs(q.window, deps.config.meshRetentionMs);
      return mesh.view(q.environment, { windowMs: ms, phase: q.phase, limit: q.limit });
    },
  );

  app.get<{ Querystring: PairQuery }>(
    '/api/v1/mesh/pairs',
    {
      preHandler: viewer,
      schema: {
        tags,
        summary: "One pair's per-minute summaries, every phase, oldest first",
        security,
        querystring: PairQuery,
        response: { 200: MeshPairSeries, ...errors, 404: ErrorBody },
      },
    },
    async (request) => {
      const q = request.query;
      return mesh.series({ ...q, windowMs: windowMs(q.window, deps.config.meshRetentionMs) });
    },
  );
}
