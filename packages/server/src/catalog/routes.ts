import {
  ErrorBody,
  Profile,
  ProfileList,
  ProfilePut,
  PublishQuery,
  Service,
  ServiceCreate,
  ServiceList,
  ServicePatch,
  SigningKey,
  VersionDetail,
  VersionList,
  VersionListQuery,
} from '@flotilla/protocol';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { Type } from 'typebox';
import { authorize, requireInstance } from '../auth/hook.ts';
import { type Principal, requireRole, type TokenStore } from '../auth/tokens.ts';
import type { Tables } from '../db/tables.ts';
import { Forbidden } from '../errors.ts';
import { errorBody } from '../http/error-handler.ts';
import type { FeatureDeps } from '../http/feature-deps.ts';
import { detachedBody } from '../http/request-body.ts';
import { createAgentScope } from './agent-scope.ts';
import { sendArtifact } from './send-artifact.ts';
import { createCatalogService, maxArtifactBytes } from './service.ts';
import { listProfiles } from './store.ts';

/**
 * Admits viewer and stronger roles, and agent tokens (which fetch what they install); an agent token
 * bound to a profile only reaches the services of that profile.
 */
function viewerOrAgent(tokens: TokenStore, db: Kysely<Tables>) {
  return async (request: FastifyRequest<{ Params: { service: string } }>) => {
    const principal = await tokens.authenticate(request.headers.authorization);
    if (principal.role !== 'agent') requireRole(principal, 'viewer');
    // Agents download as an enrolled instance; a bare agent token may only enrol.
    else requireInstance(principal);
    request.principal = principal;
    if (principal.role === 'agent' && principal.profile) {
      const services = (await listProfiles(db, principal.profile))[0]?.services ?? [];
      if (!services.includes(request.params.service)) {
        throw new Forbidden(
          `the agent token "${principal.name}" is bound to the profile "${principal.profile}", which does not include ${request.params.service}`,
        );
      }
    }
  };
}

export async function catalogRoutes(app: FastifyInstance, deps: FeatureDeps): Promise<void> {
  const catalog = createCatalogService({ db: deps.db, dataDir: deps.dataDir, blobs: deps.blobs, logger: deps.logger });
  // The signing key is made (or loaded) at start, so agents can pin it before anything is published.
  catalog.signingKey();
  const viewer = authorize(deps.tokens, 'viewer');
  const developer = authorize(deps.tokens, 'developer');
  const agentOk = viewerOrAgent(deps.tokens, deps.db);
  // Agents reach only versions their environment desires now or recently, or a rollout targets.
  const agentScope = createAgentScope(deps.db);
  const downloadable = async (request: FastifyRequest<{ Params: { service: string; version: string } }>) =>
    agentScope.requireDownloadable(actor(request), request.params.service, request.params.version);
  const security = [{ bearer: [] }];
  const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody };
  const tags = ['catalog'];
  const actor = (request: FastifyRequest) => request.principal as Principal;
  const ServiceParams = Type.Object({ service: Type.String() });
  const VersionParams = Type.Object({ service: Type.String(), version: Type.String() });
  const ProfileParams = Type.Object({ profile: Type.String() });

  // Artifacts arrive as raw streams; this parser is scoped to this plugin's routes.
  app.addContentTypeParser(
    ['application/gzip', 'application/x-gzip', 'application/octet-stream'],
    // Detached: a refusal mid-upload reaches the client and its connection is not left open.
    (_request, payload, done) => done(null, detachedBody(payload)),
  );

  app.get(
    '/api/v1/signing-key',
    {
      schema: {
        tags,
        summary: 'The public key that signs version manifests (pin it on agents)',
        response: { 200: SigningKey },
      },
    },
    async () => catalog.signingKey(),
  );

  app.get(
    '/api/v1/services',
    { preHandler: viewer, schema: { tags, summary: 'Services', security, response: { 200: ServiceList, ...errors } } },
    async () => ({ services: await catalog.listServices() }),
  );
  app.post<{ Body: ServiceCreate }>(
    '/api/v1/services',
    {
      preHandler: developer,
      schema: {
        tags,
        summary: 'Create a service',
        security,
        body: ServiceCreate,
        response: { 201: Service, ...errors },
      },
    },
    async (request, reply) => reply.status(201).send(await catalog.createService(actor(request), request.body)),
  );
  app.get<{ Params: { service: string } }>(
    '/api/v1/services/:service',
    {
      preHandler: viewer,
      schema: { tags, summary: 'One service', security, params: ServiceParams, response: { 200: Service, ...errors } },
    },
    async (request) => catalog.getService(request.params.service),
  );
  app.patch<{ Params: { service: string }; Body: ServicePatch }>(
    '/api/v1/services/:service',
    {
      preHandler: developer,
      schema: {
        tags,
        summary: 'Change description or history size',
        security,
        params: ServiceParams,
        body: ServicePatch,
        response: { 200: Service, ...errors },
      },
    },
    async (request) => catalog.patchService(actor(request), request.params.service, request.body),
  );
  app.delete<{ Params: { service: string } }>(
    '/api/v1/services/:service',
    {
      preHandler: developer,
      schema: {
        tags,
        summary: 'Delete a service without versions (restorable for the trash retention)',
        security,
        params: ServiceParams,
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (request, reply) => {
      await catalog.deleteService(actor(request), request.params.service);
      return reply.status(204).send();
    },
  );

  app.get(
    '/api/v1/profiles',
    {
      preHandler: viewer,
      schema: {
        tags,
        summary: 'Profiles (named sets of services)',
        security,
        response: { 200: ProfileList, ...errors },
      },
    },
    async () => ({ profiles: await catalog.listProfiles() }),
  );
  app.get<{ Params: { profile: string } }>(
    '/api/v1/profiles/:profile',
    {
      preHandler: viewer,
      schema: { tags, summary: 'One profile', security, params: ProfileParams, response: { 200: Profile, ...errors } },
    },
    async (request) => catalog.getProfile(request.params.profile),
  );
  app.put<{ Params: { profile: string }; Body: ProfilePut }>(
    '/api/v1/profiles/:profile',
    {
      preHandler: developer,
      schema: {
        tags,
        summary: "Create or replace a profile's services",
        security,
        params: ProfileParams,
        body: ProfilePut,
        response: { 200: Profile, ...errors },
      },
    },
    async (request) => catalog.putProfile(actor(request), request.params.profile, request.body.services),
  );
  app.delete<{ Params: { profile: string } }>(
    '/api/v1/profiles/:profile',
    {
      preHandler: developer,
      schema: {
        tags,
        summary: 'Delete a profile',
        security,
        params: ProfileParams,
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (request, reply) => {
      await catalog.deleteProfile(actor(request), request.params.profile);
      return reply.status(204).send();
    },
  );

  app.put<{ Params: { service: string; version: string }; Querystring: PublishQuery }>(
    '/api/v1/services/:service/versions/:version',
    {
      preHandler: developer,
      bodyLimit: maxArtifactBytes,
      schema: {
        tags,
        summary: 'Publish a version: the .tar.gz artifact is the raw body (Content-Type: application/gzip)',
        security,
        params: VersionParams,
        querystring: PublishQuery,
        response: { 201: VersionDetail, ...errors, 413: ErrorBody },
      },
    },
    async (request, reply) => {
      const body = request.body as NodeJS.ReadableStream | undefined;
      if (!body || typeof (body as { pipe?: unknown }).pipe !== 'function') {
        return reply
          .status(415)
          .send(errorBody('invalid', 'send the artifact as the body with Content-Type: application/gzip'));
      }
      const created = await catalog.publish(actor(request), {
        service: request.params.service,
        version: request.params.version,
        body,
        sha256: request.query.sha256,
        notes: request.query.notes,
      });
      return reply.status(201).send(created);
    },
  );

  app.get<{ Params: { service: string }; Querystring: VersionListQuery }>(
    '/api/v1/services/:service/versions',
    {
      preHandler: viewer,
      schema: {
        tags,
        summary: 'Versions, newest first',
        security,
        params: ServiceParams,
        querystring: VersionListQuery,
        response: { 200: VersionList, ...errors },
      },
    },
    async (request) => catalog.listVersions(request.params.service, request.query),
  );
  app.get<{ Params: { service: string; version: string } }>(
    '/api/v1/services/:service/versions/:version',
    {
      preHandler: [agentOk, downloadable],
      schema: {
        tags,
        summary: 'A version with its manifest and signature',
        security,
        params: VersionParams,
        response: { 200: VersionDetail, ...errors },
      },
    },
    async (request) => catalog.getVersion(request.params.service, request.params.version),
  );
  app.get<{ Params: { service: string; version: string } }>(
    '/api/v1/services/:service/versions/:version/artifact',
    {
      preHandler: [agentOk, downloadable],
      schema: {
        tags,
        summary: 'Download the artifact (supports Range for resuming)',
        security,
        params: VersionParams,
        response: { ...errors, 416: ErrorBody, 503: ErrorBody },
      },
    },
    async (request, reply) =>
      sendArtifact(request, reply, await catalog.artifact(request.params.service, request.params.version)),
  );
}
