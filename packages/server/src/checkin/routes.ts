import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errorBody } from '../http/error-handler.ts';
import type { CheckinApp } from './apps.ts';
import type { CheckinService } from './service.ts';

export const checkinBodyLimit = 64 * 1024;

/**
 * upgrade-responder's wire protocol. Bodies are read as text whatever the Content-Type, because
 * real clients send application/json, text/plain or nothing at all.
 */
export async function checkinRoutes(
  app: FastifyInstance,
  opts: { service: CheckinService; rateLimitPerMinute: number },
) {
  const { service } = opts;
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: checkinBodyLimit }, (_req, body, done) =>
    done(null, body),
  );
  const limits =
    opts.rateLimitPerMinute > 0 ? { config: { rateLimit: { max: opts.rateLimitPerMinute, timeWindow: 60_000 } } } : {};

  const answer = async (target: CheckinApp, request: FastifyRequest, reply: FastifyReply) => {
    const body = typeof request.body === 'string' ? request.body : '';
    const payload = await service.checkIn(target, body, request.ip);
    return reply.type('application/json').send(payload);
  };
  app.post('/v1/checkupgrade', { ...limits, bodyLimit: checkinBodyLimit }, (request, reply) =>
    answer(service.apps.getDefault(), request, reply),
  );
  app.post<{ Params: { app: string } }>(
    '/v1/apps/:app/checkupgrade',
    { ...limits, bodyLimit: checkinBodyLimit },
    (request, reply) => answer(service.apps.get(request.params.app), request, reply),
  );
  const notAllowed = (_request: FastifyRequest, reply: FastifyReply) =>
    reply.status(405).header('allow', 'POST').send(errorBody('invalid', 'use POST to check for upgrades'));
  app.get('/v1/checkupgrade', notAllowed);
  app.get('/v1/apps/:app/checkupgrade', notAllowed);
}
