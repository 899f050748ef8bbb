import { ErrorBody } from '@flotilla/protocol';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { authorize } from '../auth/hook.ts';
import { Invalid } from '../errors.ts';
import type { FeatureDeps } from '../http/feature-deps.ts';
import { removeConnection, writeConnection } from './connection.ts';
import type { Follower } from './follower.ts';
import { listReceived } from './received-store.ts';

const Status = Type.Object({
  state: Type.String(),
  providerUrl: Type.Union([Type.String(), Type.Null()]),
  environment: Type.Union([Type.String(), Type.Null()]),
  consumer: Type.Union([Type.String(), Type.Null()]),
  profile: Type.Union([Type.String(), Type.Null()]),
  pinnedKeyId: Type.Union([Type.String(), Type.Null()]),
  offeredKeyId: Type.Union([Type.String(), Type.Null()]),
  lastSyncAt: Type.Union([Type.String(), Type.Null()]),
  lastReportAt: Type.Union([Type.String(), Type.Null()]),
  lastError: Type.Union([Type.String(), Type.Null()]),
  received: Type.Number(),
  refused: Type.Array(
    Type.Object({ service: Type.String(), version: Type.String(), reason: Type.String(), at: Type.String() }),
  ),
  recent: Type.Array(
    Type.Object({
      service: Type.String(),
      version: Type.String(),
      providerUrl: Type.String(),
      providerDigest: Type.String(),
      providerKeyId: Type.String(),
      receivedAt: Type.String(),
    }),
  ),
});

const Connect = Type.Object(
  {
    providerUrl: Type.String({ pattern: '^https?://', maxLength: 2000 }),
    providerToken: Type.String({ pattern: '^flc_', maxLength: 200 }),
    environment: Type.Optional(Type.String({ maxLength: 63 })),
  },
  { additionalProperties: false },
);

/** Consumer side: this server's federation status, and connecting to (or leaving) a provider. */
export async function consumerRoutes(app: FastifyInstance, deps: FeatureDeps & { follower: Follower }) {
  const { follower } = deps;
  const viewer = authorize(deps.tokens, 'viewer');
  const admin = authorize(deps.tokens, 'admin');
  const security = [{ bearer: [] }];
  const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody };
  const tags = ['federation'];
  const statusNow = async () => ({
    ...follower.status(),
    recent: (await listReceived(deps.db, 20)).map((r) => ({
      service: r.service,
      version: r.version,
      providerUrl: r.provider_url,
      providerDigest: r.provider_digest,
      providerKeyId: r.provider_key_id,
      receivedAt: r.received_at,
    })),
  });

  app.get(
    '/api/v1/federation',
    {
      preHandler: viewer,
      schema: {
        tags,
        summary: 'Whether and how this server follows a provider',
        security,
        response: { 200: Status, ...errors },
      },
    },
    statusNow,
  );
  app.put<{ Body: { providerUrl: string; providerToken: string; environment?: string } }>(
    '/api/v1/federation',
    {
      preHandler: admin,
      schema: {
        tags,
        summary: 'Follow a provider server with a consumer token (kept in the data directory, 0600)',
        security,
        body: Connect,
        response: { 200: Status, ...errors },
      },
    },
    async (request) => {
      if (deps.config.federation)
        throw new Invalid('this server follows the provider given by --provider-url; change the flag instead');
      const c = {
        providerUrl: request.body.providerUrl,
        token: request.body.providerToken,
        environment: request.body.environment ?? null,
      };
      writeConnection(deps.dataDir, c);
      await follower.start(c);
      return statusNow();
    },
  );
  app.delete(
    '/api/v1/federation',
    {
      preHandler: admin,
      schema: { tags, summary: 'Stop following the provider', security, response: { 200: Status, ...errors } },
    },
    async () => {
      if (deps.config.federation)
        throw new Invalid('this server follows the provider given by --provider-url; remove the flag instead');
      removeConnection(deps.dataDir);
      await follower.stop();
      return statusNow();
    },
  );
}
