import {
  AgentEnrollBody,
  AgentEnrolled,
  AgentIdentity,
  ErrorBody,
  IdentityList,
  IdentityQuery,
  InstanceIdParams,
} from '@flotilla/protocol';
import type { FastifyInstance } from 'fastify';
import { authorize, authorizeAgentToken, principalOf } from '../auth/hook.ts';
import type { FeatureDeps } from '../http/feature-deps.ts';
import { createIdentityService } from './service.ts';

/** Enrolment of agent instances (with an agent token), and their identities for admins and viewers. */
export async function identityRoutes(app: FastifyInstance, deps: FeatureDeps): Promise<void> {
  const identities = createIdentityService({ db: deps.db });
  const security = [{ bearer: [] }];
  const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody };
  const tags = ['agent', 'identities'];

  app.post<{ Body: AgentEnrollBody }>(
    '/api/v1/agent/enroll',
    {
      preHandler: authorizeAgentToken(deps.tokens),
      schema: {
        tags,
        summary:
          'Enrol this instance with an agent token: the answer holds the instance credential that every other agent route takes',
        security,
        body: AgentEnrollBody,
        response: { 201: AgentEnrolled, ...errors },
      },
    },
    async (request, reply) => reply.code(201).send(await identities.enroll(principalOf(request), request.body)),
  );

  app.get<{ Querystring: IdentityQuery }>(
    '/api/v1/identities',
    {
      preHandler: authorize(deps.tokens, 'viewer'),
      schema: {
        tags,
        summary: 'Enrolled instances: environment, profile, enrolling token, public key, last use, revocation',
        security,
        querystring: IdentityQuery,
        response: { 200: IdentityList, ...errors },
      },
    },
    async (request) => ({ identities: await identities.list(request.query) }),
  );

  app.get<{ Params: InstanceIdParams }>(
    '/api/v1/instances/:id/identity',
    {
      preHandler: authorize(deps.tokens, 'viewer'),
      schema: {
        tags,
        summary: "One instance's identity",
        security,
        params: InstanceIdParams,
        response: { 200: AgentIdentity, ...errors },
      },
    },
    async (request) => identities.get(request.params.id),
  );

  app.delete<{ Params: InstanceIdParams }>(
    '/api/v1/instances/:id/identity',
    {
      preHandler: authorize(deps.tokens, 'admin'),
      schema: {
        tags,
        summary: "Revoke an instance's identity: its credential is refused (401) at once; it may then enrol again",
        security,
        params: InstanceIdParams,
        response: { 200: AgentIdentity, ...errors },
      },
    },
    async (request) => identities.revoke(principalOf(request), request.params.id),
  );
}
