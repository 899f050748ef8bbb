import { BuildJob, BuildList, ConsumerClientBuildCreate, ErrorBody } from '@flotilla/protocol';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { recordAudit } from '../audit/audit-log.ts';
import { authorize, principalOf } from '../auth/hook.ts';
import { DomainError, Forbidden, Invalid, NotFound, Unavailable } from '../errors.ts';
import type { FeatureDeps } from '../http/feature-deps.ts';
import type { Follower } from './follower.ts';
import { callProvider, firstBytes, type ProviderConnection, ProviderRefused } from './provider-client.ts';

const maxLogAnswerBytes = 1024 * 1024;

/** The provider's refusal as this server's own error, so the caller sees the provider's reason. */
function asDomainError(err: unknown): unknown {
  if (!(err instanceof ProviderRefused)) {
    return new Unavailable(`the provider cannot be reached: ${(err as Error).message}`, 30);
  }
  const reason = err.message.replace(/^\d+ from the provider: /, 'the provider: ');
  if (err.status === 400) return new Invalid(reason);
  if (err.status === 403) return new Forbidden(reason);
  if (err.status === 404) return new NotFound(reason);
  if (err.status === 429) return new DomainError('rate_limited', reason, { 'retry-after': '60' });
  if (err.status === 401) return new Unavailable(`${reason} (the consumer token is refused)`);
  return new Unavailable(reason, 30);
}

/**
 * Consumer side of builds at the provider: this server's developers ask the provider it follows to
 * build a client version with their settings; the version then arrives through the feed like any other.
 */
export async function providerBuildRoutes(app: FastifyInstance, deps: FeatureDeps & { follower: Follower }) {
  const viewer = authorize(deps.tokens, 'viewer');
  const developer = authorize(deps.tokens, 'developer');
  const tags = ['federation'];
  const security = [{ bearer: [] }];
  const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 503: ErrorBody };
  const IdParams = Type.Object({ id: Type.Integer({ minimum: 1 }) });
  const connection = (): ProviderConnection => {
    const c = deps.follower.connection();
    if (!c) throw new Invalid('this server follows no provider: flotilla federation connect <url> --token <flc_…>');
    return c;
  };
  const forward = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
    try {
      return await callProvider<T>(connection(), path, init, AbortSignal.timeout(30_000));
    } catch (err) {
      throw err instanceof DomainError ? err : asDomainError(err);
    }
  };
  const base = '/api/v1/federation/client-builds';

  app.post<{ Body: ConsumerClientBuildCreate }>(
    '/api/v1/federation/provider/client-builds',
    {
      preHandler: developer,
      schema: {
        tags,
        summary: 'Ask the provider to build a client version with these settings; it arrives through the feed',
        security,
        body: ConsumerClientBuildCreate,
        response: { 201: BuildJob, ...errors, 429: ErrorBody },
      },
    },
    async (request, reply) => {
      const job = await forward<BuildJob>(base, {
        method: 'POST',
        body: JSON.stringify(request.body),
        headers: { 'content-type': 'application/json' },
      });
      await recordAudit(deps.db, {
        actor: principalOf(request),
        action: 'federation.client-build',
        target: `service:${job.service}`,
        after: { providerUrl: connection().providerUrl, id: job.id, from: job.from, sources: job.sources },
      });
      return reply.status(201).send(job);
    },
  );

  app.get(
    '/api/v1/federation/provider/client-builds',
    {
      preHandler: viewer,
      schema: {
        tags,
        summary: "This server's build jobs at the provider",
        security,
        response: { 200: BuildList, ...errors },
      },
    },
    async () => forward<BuildList>(base),
  );

  app.get<{ Params: { id: number } }>(
    '/api/v1/federation/provider/client-builds/:id',
    {
      preHandler: viewer,
      schema: { tags, summary: 'One of them', security, params: IdParams, response: { 200: BuildJob, ...errors } },
    },
    async (request) => forward<BuildJob>(`${base}/${request.params.id}`),
  );

  app.post<{ Params: { id: number } }>(
    '/api/v1/federation/provider/client-builds/:id/cancel',
    {
      preHandler: developer,
      schema: {
        tags,
        summary: "Cancel one of this server's builds at the provider",
        security,
        params: IdParams,
        response: { 200: BuildJob, ...errors },
      },
    },
    async (request) => {
      const job = await forward<BuildJob>(`${base}/${request.params.id}/cancel`, { method: 'POST' });
      await recordAudit(deps.db, {
        actor: principalOf(request),
        action: 'federation.client-build.cancel',
        target: `service:${job.service}`,
        before: { providerUrl: connection().providerUrl, id: job.id },
      });
      return job;
    },
  );

  app.get<{ Params: { id: number }; Querystring: { offset?: number } }>(
    '/api/v1/federation/provider/client-builds/:id/log',
    {
      preHandler: developer,
      schema: {
        tags,
        summary: 'Its log from a byte offset, as the provider keeps it',
        security,
        params: IdParams,
        querystring: Type.Object({ offset: Type.Optional(Type.Integer({ minimum: 0 })) }),
        response: { 200: Type.String(), ...errors },
      },
    },
    async (request, reply) => {
      const c = connection();
      const url = new URL(`${base}/${request.params.id}/log`, c.providerUrl);
      url.searchParams.set('offset', String(request.query.offset ?? 0));
      let res: Response;
      try {
        res = await fetch(url, {
          headers: { authorization: `Bearer ${c.token}` },
          signal: AbortSignal.timeout(30_000),
        });
      } catch (err) {
        throw asDomainError(err);
      }
      if (!res.ok) {
        const text = (await firstBytes(res, 300)).bytes.toString('utf8');
        throw asDomainError(new ProviderRefused(res.status, `${res.status} from the provider: ${text}`));
      }
      // At most a megabyte per answer, read as bytes: the caller asks again from its new offset.
      reply.type('text/plain; charset=utf-8');
      return reply.send((await firstBytes(res, maxLogAnswerBytes)).bytes);
    },
  );
}
