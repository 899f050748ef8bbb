import { ErrorBody, WhoAmI } from '@flotilla/protocol';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { requireCsrfHeader } from '../auth/session.ts';
import { openSession } from '../auth/session-routes.ts';
import type { FeatureDeps } from '../http/feature-deps.ts';
import type { SetupGate } from './gate.ts';

const SetupStatus = Type.Object(
  {
    state: Type.Union([Type.Literal('pending'), Type.Literal('closed'), Type.Literal('done')], {
      description:
        'pending: the first admin can be created with the setup code; closed: no user exists but no code works (restart the server for a new one); done: a user exists',
    }),
  },
  { additionalProperties: false },
);
const SetupBody = Type.Object(
  {
    code: Type.String({ minLength: 1, maxLength: 64, description: 'the setup code the server printed at start' }),
    name: Type.String({ minLength: 1, maxLength: 64 }),
    password: Type.String({ minLength: 1, maxLength: 1024 }),
  },
  { additionalProperties: false },
);
type SetupBody = { code: string; name: string; password: string };

const tags = ['accounts'];

/** The first visit: with the code printed at start, the first admin is created and signed in. */
export async function setupRoutes(app: FastifyInstance, deps: FeatureDeps & { setup: SetupGate }): Promise<void> {
  app.get(
    '/api/v1/setup',
    {
      schema: {
        tags,
        summary: 'Whether the first admin can still be created with the setup code (reveals nothing else)',
        response: { 200: SetupStatus },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'no-store');
      return { state: await deps.setup.state() };
    },
  );

  app.post<{ Body: SetupBody }>(
    '/api/v1/setup',
    {
      schema: {
        tags,
        summary:
          'Create the first admin with the setup code and sign in (sets the session cookie; send "X-Flotilla-Csrf: 1")',
        body: SetupBody,
        response: { 200: WhoAmI, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 409: ErrorBody, 429: ErrorBody },
      },
    },
    async (request, reply) => {
      // It signs the browser in, so a foreign page must not be able to send it (as with sign-in).
      requireCsrfHeader(request);
      const { code, name, password } = request.body;
      // The address only keys the in-memory failure counter; it is never stored or logged.
      await deps.setup.complete({ code, name, password }, request.ip);
      return openSession(app, deps, request, reply, { name, password });
    },
  );
}
