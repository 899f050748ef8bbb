import { CheckUpgradeResponse, ErrorBody } from '@flotilla/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { DomainError } from '../errors.ts';
import { errorBody } from '../http/error-handler.ts';
import type { CheckinApp } from './apps.ts';
import { isUntrustedForward, rateLimitKey } from './forwarded.ts';
import { RateWindow } from './rate-window.ts';
import type { CheckinService } from './service.ts';
import { unstoredHeader } from './writer.ts';

export const checkinBodyLimit = 64 * 1024;

const asIs = (payload: unknown) => payload as string;

/**
 * upgrade-responder's wire protocol. Bodies are read as text whatever the Content-Type, because
 * real clients send application/json, text/plain or nothing at all.
 */
export async function checkinRoutes(
  app: FastifyInstance,
  opts: {
    service: CheckinService;
    rateLimitPerMinute: number;
    /** `--trusted-proxies` as a predicate; null when none are configured. */
    trusted: ((address: string) => boolean) | null;
    /** Told of each check-in with X-Forwarded-For from an untrusted peer, before it is rate-limited. */
    onUntrustedForward: () => void;
  },
) {
  const { service, trusted } = opts;
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: checkinBodyLimit }, (_req, body, done) =>
    done(null, body),
  );
  // The same limiter as on check-in threads. Counted before the body is read, as a refusal needs none.
  const limiter = opts.rateLimitPerMinute > 0 ? new RateWindow(opts.rateLimitPerMinute, 60_000) : null;
  const admit = (request: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void) => {
    // Behind check-in threads the peer is the private socket (no address) and the threads did this.
    const peer = request.socket.remoteAddress;
    const forwardedFor = peer ? request.headers['x-forwarded-for'] : undefined;
    if (peer && isUntrustedForward(peer, forwardedFor, trusted)) opts.onUntrustedForward();
    const retryAfter = limiter?.hit(rateLimitKey(request.ip, forwardedFor, trusted)) ?? 0;
    if (retryAfter === 0) return done();
    const message = `too many check-ins from this address; retry in ${retryAfter} s`;
    done(new DomainError('rate_limited', message, { 'retry-after': String(retryAfter) }));
  };

  const answer = async (target: CheckinApp, request: FastifyRequest, reply: FastifyReply) => {
    const body = typeof request.body === 'string' ? request.body : '';
    const payload = await service.checkIn(target, body, request.ip);
    // A string body goes out in one write with the headers; the identity serializer keeps Fastify
    // from appending a charset, so the Content-Type stays byte-identical to upgrade-responder's.
    reply.header('content-type', 'application/json').serializer(asIs);
    if (typeof payload === 'string') return reply.send(payload);
    return reply.header(unstoredHeader, payload.unstored).send(payload.body);
  };
  // Documented, not validated, by the schema: the body is parsed by hand to keep upgrade-responder's rules.
  const doc = (summary: string, params?: ReturnType<typeof Type.Object>) => ({
    onRequest: admit,
    bodyLimit: checkinBodyLimit,
    schema: {
      tags: ['check-in'],
      summary,
      description:
        'JSON body `{ appVersion, extraTagInfo, extraFieldInfo, extraInfo, instanceId }` with any Content-Type, at most 64 KiB.',
      ...(params ? { params } : {}),
      response: {
        200: CheckUpgradeResponse,
        400: ErrorBody,
        404: ErrorBody,
        413: ErrorBody,
        429: ErrorBody,
        503: ErrorBody,
      },
    },
  });
  app.post(
    '/v1/checkupgrade',
    doc('Check for upgrades (default app); upgrade-responder compatible'),
    (request, reply) => answer(service.apps.getDefault(), request, reply),
  );
  app.post<{ Params: { app: string } }>(
    '/v1/apps/:app/checkupgrade',
    doc('Check for upgrades of a named app', Type.Object({ app: Type.String() })),
    (request, reply) => answer(service.apps.get(request.params.app), request, reply),
  );
  const notAllowed = (_request: FastifyRequest, reply: FastifyReply) =>
    reply.status(405).header('allow', 'POST').send(errorBody('invalid', 'use POST to check for upgrades'));
  app.get('/v1/checkupgrade', { schema: { hide: true } }, notAllowed);
  app.get('/v1/apps/:app/checkupgrade', { schema: { hide: true } }, notAllowed);
}
