import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { Unauthorized } from '../errors.ts';
import { authenticateBeforeBody } from './auth-before-body.ts';
import { installErrorHandling } from './error-handler.ts';

describe('authenticateBeforeBody', () => {
  it("runs a route's preHandler before its body is parsed", async () => {
    const app = Fastify();
    installErrorHandling(app);
    authenticateBeforeBody(app);
    const seen: unknown[] = [];
    const check = async (request: { headers: Record<string, unknown>; body?: unknown }) => {
      seen.push(request.body);
      if (request.headers.authorization !== 'Bearer ok') throw new Unauthorized();
    };
    app.post('/x', { preHandler: [check], schema: { body: { type: 'object', required: ['a'] } } }, async () => ({
      ok: true,
    }));
    try {
      const bad = await app.inject({
        method: 'POST',
        url: '/x',
        payload: '{not json',
        headers: { 'content-type': 'application/json' },
      });
      expect(bad.statusCode).toBe(401);
      const invalid = await app.inject({
        method: 'POST',
        url: '/x',
        payload: { b: 1 },
        headers: { authorization: 'Bearer ok' },
      });
      expect(invalid.statusCode).toBe(400);
      const good = await app.inject({
        method: 'POST',
        url: '/x',
        payload: { a: 1 },
        headers: { authorization: 'Bearer ok' },
      });
      expect(good.statusCode).toBe(200);
      // The check never saw a parsed body: it ran at onRequest.
      expect(seen).toEqual([undefined, undefined, undefined]);
    } finally {
      await app.close();
    }
  });
});
