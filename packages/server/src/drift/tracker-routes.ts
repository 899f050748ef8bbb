import { driftSchemaProblems, ErrorBody } from '@flotilla/protocol';
import type { FastifyInstance } from 'fastify';
import { type Static, Type } from 'typebox';
import { agentScopeOf, authorize, authorizeAgent, principalOf } from '../auth/hook.ts';
import { loadOrCreateSigningKey, type SigningKeyPair } from '../catalog/signing.ts';
import { agentNotifier } from '../desired/agent-routes.ts';
import { Invalid } from '../errors.ts';
import type { FeatureDeps } from '../http/feature-deps.ts';
import { createTrackerService, trackerLimits } from './tracker-service.ts';

const Name = Type.String({ minLength: 1, maxLength: 253 });
const EnvQuery = Type.Object({ environment: Name });
type EnvQuery = Static<typeof EnvQuery>;
const ApplyBody = Type.Object(
  {
    trackers: Type.Array(Type.Unknown(), {
      maxItems: trackerLimits.perEnvironment,
      description: 'VersionTracker documents with a host strategy (Command, File, Package)',
    }),
    prune: Type.Optional(Type.Boolean({ description: "remove the environment's trackers not listed" })),
  },
  { additionalProperties: false },
);
type ApplyBody = Static<typeof ApplyBody>;
const Names = Type.Array(Type.String());
const ApplyAnswer = Type.Object({ created: Names, updated: Names, unchanged: Names, pruned: Names });
const TrackerList = Type.Object({
  environment: Type.String(),
  trackers: Type.Array(
    Type.Object({
      name: Type.String(),
      updatedAt: Type.String({ format: 'date-time' }),
      updatedBy: Type.String(),
      tracker: Type.Unknown({ description: 'the VersionTracker document as validated' }),
    }),
  ),
});
const AgentTrackers = Type.Object({
  statement: Type.String({
    description:
      'Canonical JSON of { kind: "flotilla.drift-trackers", environment, revision, trackers, issuedAt, expiresAt }: the bytes `signature` covers',
  }),
  signature: Type.String({ description: "Base64 Ed25519 signature of `statement` by the server's signing key" }),
  keyId: Type.String(),
});

/** Host trackers: kept per environment by admins, fetched signed by the environment's agents. */
export async function driftTrackerRoutes(app: FastifyInstance, deps: FeatureDeps): Promise<void> {
  let key: SigningKeyPair | undefined;
  const trackers = createTrackerService({
    db: deps.db,
    // The same key as the desired lists: the one agents pin.
    key: () => (key ??= loadOrCreateSigningKey(deps.dataDir)),
    notify: (environment) => agentNotifier(app.server)?.notify(environment),
  });
  const security = [{ bearer: [] }];
  const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody };
  const tags = ['drift'];
  const admin = authorize(deps.tokens, 'admin');
  const viewer = authorize(deps.tokens, 'viewer');

  app.put<{ Querystring: EnvQuery; Body: ApplyBody }>(
    '/api/v1/drift/trackers',
    {
      preHandler: admin,
      bodyLimit: trackerLimits.bodyBytes,
      attachValidation: true,
      schema: {
        tags,
        summary: "Apply host trackers to an environment (upsert; `prune` removes the environment's others)",
        security,
        querystring: EnvQuery,
        body: ApplyBody,
        response: { 200: ApplyAnswer, ...errors, 413: ErrorBody },
      },
    },
    async (request) => {
      if (request.validationError) {
        const problems =
          request.validationError.validationContext === 'body'
            ? driftSchemaProblems(ApplyBody, request.body)
            : ([] as string[]);
        throw new Invalid(problems.length > 0 ? problems.join('; ') : request.validationError.message);
      }
      const { trackers: docs, prune } = request.body;
      return trackers.apply(principalOf(request), request.query.environment, docs, prune === true);
    },
  );

  app.get<{ Querystring: EnvQuery }>(
    '/api/v1/drift/trackers',
    {
      preHandler: viewer,
      schema: {
        tags,
        summary: "An environment's host trackers",
        security,
        querystring: EnvQuery,
        response: { 200: TrackerList, ...errors },
      },
    },
    async (request) => {
      const { environment } = request.query;
      const list = await trackers.list(environment);
      return {
        environment,
        trackers: list.map((t) => ({ ...t, updatedAt: new Date(t.updatedAt).toISOString() })),
      };
    },
  );

  app.delete<{ Params: { environment: string; name: string } }>(
    '/api/v1/drift/trackers/:environment/:name',
    {
      preHandler: admin,
      schema: {
        tags,
        summary: 'Remove one host tracker',
        security,
        params: Type.Object({ environment: Name, name: Name }),
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (request, reply) => {
      await trackers.remove(principalOf(request), request.params.environment, request.params.name);
      return reply.code(204).send();
    },
  );

  app.get(
    '/api/v1/agent/drift/trackers',
    {
      preHandler: authorizeAgent(deps.tokens),
      schema: {
        tags: ['agent'],
        summary: "The host trackers of the agent's own environment, signed; If-None-Match gives 304",
        security,
        response: { 200: AgentTrackers, 304: Type.Null(), ...errors },
      },
    },
    async (request, reply) => {
      const { environment } = agentScopeOf(request);
      reply.header('cache-control', 'private, no-cache');
      const known = request.headers['if-none-match'];
      if (known) {
        // An idle poll reads names and times only, and signs nothing.
        const etag = await trackers.etag(environment);
        const tags = known.split(',').map((t) => t.trim().replace(/^W\//, ''));
        if (tags.includes(etag)) return reply.code(304).header('etag', etag).send();
      }
      const { etag, ...signed } = await trackers.signed(environment);
      return reply.header('etag', etag).send(signed);
    },
  );
}
