import { ErrorBody } from '@flotilla/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { authorize } from '../auth/hook.ts';
import type { Principal } from '../auth/tokens.ts';
import { sendArtifact } from '../catalog/send-artifact.ts';
import { parseWait } from '../desired/long-poll.ts';
import { Invalid } from '../errors.ts';
import type { FeatureDeps } from '../http/feature-deps.ts';
import type { ConsumerRow } from './consumer-store.ts';
import { catalogFingerprint } from './consumer-store.ts';
import { FeedWatch } from './feed-watch.ts';
import { createProviderService } from './provider-service.ts';
import {
  Consumer,
  ConsumerCreate,
  ConsumerCreated,
  ConsumerFleet,
  ConsumerList,
  ConsumerReport,
  ConsumerSettingsUrls,
  FederatedVersion,
  Feed,
  FeedQuery,
} from './schemas.ts';

const maxWaitMs = 60_000;
const maxReportBytes = 2 * 1024 * 1024;

declare module 'fastify' {
  interface FastifyRequest {
    consumer?: ConsumerRow;
  }
}

/** Provider side: consumer accounts (admin) and the routes consumer servers call with their `flc_` token. */
export async function providerRoutes(app: FastifyInstance, deps: FeatureDeps & { feedIntervalMs?: number }) {
  const provider = createProviderService({ db: deps.db, dataDir: deps.dataDir, blobs: deps.blobs });
  const watch = new FeedWatch(() => catalogFingerprint(deps.db), deps.feedIntervalMs);
  app.addHook('preClose', (done) => {
    watch.close();
    done();
  });
  const admin = authorize(deps.tokens, 'admin');
  const viewer = authorize(deps.tokens, 'viewer');
  // Consumer tokens only: never the session cookie, never an API token.
  const consumerOnly = async (request: FastifyRequest) => {
    request.consumer = await provider.authenticate(request.headers.authorization);
  };
  const consumerOf = (request: FastifyRequest) => request.consumer as ConsumerRow;
  const who = (request: FastifyRequest) => request.principal as Principal;
  const security = [{ bearer: [] }];
  const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody };
  const tags = ['federation'];
  const NameParams = Type.Object({ name: Type.String() });
  const VersionParams = Type.Object({ service: Type.String(), version: Type.String() });

  app.post<{ Body: ConsumerCreate }>(
    '/api/v1/consumers',
    {
      preHandler: admin,
      schema: {
        tags,
        summary: 'Create a consumer server account bound to a profile; its token is shown once',
        security,
        body: ConsumerCreate,
        response: { 201: ConsumerCreated, ...errors },
      },
    },
    async (request, reply) => reply.status(201).send(await provider.createConsumer(who(request), request.body)),
  );
  app.get(
    '/api/v1/consumers',
    {
      preHandler: viewer,
      schema: { tags, summary: 'Consumer server accounts', security, response: { 200: ConsumerList, ...errors } },
    },
    async () => ({ consumers: await provider.listConsumers() }),
  );
  app.get<{ Params: { name: string } }>(
    '/api/v1/consumers/:name',
    {
      preHandler: viewer,
      schema: { tags, summary: 'One consumer', security, params: NameParams, response: { 200: Consumer, ...errors } },
    },
    async (request) => provider.getConsumer(request.params.name),
  );
  app.put<{ Params: { name: string }; Body: ConsumerSettingsUrls }>(
    '/api/v1/consumers/:name/settings-urls',
    {
      preHandler: admin,
      schema: {
        tags,
        summary: "The URL prefixes a consumer's settings repositories must start with for the builds it asks for",
        security,
        params: NameParams,
        body: ConsumerSettingsUrls,
        response: { 200: Consumer, ...errors },
      },
    },
    async (request) => provider.setSettingsUrls(who(request), request.params.name, request.body.settingsUrls),
  );
  app.post<{ Params: { name: string } }>(
    '/api/v1/consumers/:name/revoke',
    {
      preHandler: admin,
      schema: {
        tags,
        summary: "Revoke a consumer's token: its server stops following at once",
        security,
        params: NameParams,
        response: { 200: Consumer, ...errors },
      },
    },
    async (request) => provider.revokeConsumer(who(request), request.params.name),
  );
  app.get<{ Params: { name: string } }>(
    '/api/v1/consumers/:name/fleet',
    {
      preHandler: viewer,
      schema: {
        tags,
        summary: "The consumer's latest report: installed versions, instance states, faults",
        security,
        params: NameParams,
        response: { 200: ConsumerFleet, ...errors },
      },
    },
    async (request) => provider.fleet(request.params.name),
  );

  app.get<{ Querystring: { since?: string; wait?: string } }>(
    '/api/v1/federation/feed',
    {
      preHandler: consumerOnly,
      schema: {
        tags,
        summary: "The consumer's profile versions; ?since=<cursor>&wait=30s long-polls",
        security,
        querystring: FeedQuery,
        response: { 200: Feed, ...errors },
      },
    },
    async (request, reply) => {
      const consumer = consumerOf(request);
      const waitMs = request.query.wait === undefined ? 0 : parseWait(request.query.wait, maxWaitMs);
      if (waitMs === undefined) throw new Invalid('wait must look like 30s (at most 60s)');
      let feed = await provider.feed(consumer);
      const deadline = Date.now() + waitMs;
      while (request.query.since === feed.cursor && Date.now() < deadline) {
        const reason = await waitForCatalog(reply, watch, deadline - Date.now());
        if (reason === 'aborted' || reason === 'closed') break;
        // Checked again: a token revoked while its feed waited ends the wait with 401.
        await provider.authenticate(request.headers.authorization);
        feed = await provider.feed(consumer);
      }
      reply.header('cache-control', 'private, no-store');
      return feed;
    },
  );
  app.get<{ Params: { service: string; version: string } }>(
    '/api/v1/federation/versions/:service/:version',
    {
      preHandler: consumerOnly,
      schema: {
        tags,
        summary: 'A version with the signed manifest',
        security,
        params: VersionParams,
        response: { 200: FederatedVersion, ...errors },
      },
    },
    async (request) => provider.version(consumerOf(request), request.params.service, request.params.version),
  );
  app.get<{ Params: { service: string; version: string } }>(
    '/api/v1/federation/versions/:service/:version/artifact',
    {
      preHandler: consumerOnly,
      schema: {
        tags,
        summary: "A version's artifact (Range resumes)",
        security,
        params: VersionParams,
        response: { ...errors, 416: ErrorBody, 503: ErrorBody },
      },
    },
    async (request, reply) =>
      sendArtifact(
        request,
        reply,
        await provider.artifact(consumerOf(request), request.params.service, request.params.version),
      ),
  );
  app.post<{ Body: ConsumerReport }>(
    '/api/v1/federation/report',
    {
      preHandler: consumerOnly,
      bodyLimit: maxReportBytes,
      schema: {
        tags,
        summary: "The consumer's instances and faults of the provider's services",
        security,
        body: ConsumerReport,
        response: { 204: Type.Null(), ...errors, 413: ErrorBody },
      },
    },
    async (request, reply) => {
      await provider.report(consumerOf(request), request.body);
      return reply.status(204).send();
    },
  );
}

/** Waits for a catalog change, the deadline, or the client going away. */
async function waitForCatalog(reply: FastifyReply, watch: FeedWatch, ms: number) {
  const left = new AbortController();
  const onClose = () => {
    if (!reply.raw.writableEnded) left.abort();
  };
  reply.raw.once('close', onClose);
  try {
    return await watch.wait(Math.max(0, ms), left.signal);
  } finally {
    reply.raw.off('close', onClose);
  }
}
