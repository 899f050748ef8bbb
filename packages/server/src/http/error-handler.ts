import type { ErrorBody, ErrorCode } from '@flotilla/protocol';
import type { FastifyError, FastifyInstance } from 'fastify';
import { DomainError, RolloutActive, statusByCode } from '../errors.ts';
import { drainThenClose } from './request-body.ts';

const codeByStatus: Record<number, ErrorCode> = {
  400: 'invalid',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'invalid',
  408: 'timeout',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'invalid',
  429: 'rate_limited',
  431: 'headers_too_large',
  503: 'unavailable',
};

export function errorBody(code: ErrorCode, message: string): ErrorBody {
  return { error: { code, message } };
}

/** The one place that turns errors into HTTP statuses and `{ "error": { code, message } }` bodies. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | DomainError, request, reply) => {
    // An answer sent before the body arrived: the rest is read and discarded, not reset (see drainThenClose).
    if (!request.raw.complete) {
      reply.removeHeader('connection');
      drainThenClose(request.raw);
    }
    if (err instanceof DomainError) {
      reply.headers(err.headers);
      const body = errorBody(err.code, err.message);
      if (err instanceof RolloutActive) body.error.rollout = err.rollout;
      return reply.status(statusByCode[err.code]).send(body);
    }
    const fe = err as FastifyError & Partial<ErrorBody>;
    if (fe.error?.code && fe.statusCode) return reply.status(fe.statusCode).send({ error: fe.error });
    if (fe.validation) {
      return reply.status(400).send(errorBody('invalid', `${fe.validationContext ?? 'request'} ${fe.message}`));
    }
    if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply
        .status(413)
        .send(errorBody('payload_too_large', 'the request body is larger than the limit for this route'));
    }
    const status = fe.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      return reply.status(status).send(errorBody(codeByStatus[status] ?? 'invalid', fe.message));
    }
    request.log.error({ err }, 'request failed');
    return reply.status(500).send(errorBody('internal', 'internal error; the server log has details'));
  });
  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send(errorBody('not_found', `no route ${request.method} ${request.url.split('?')[0]}`));
  });
}
