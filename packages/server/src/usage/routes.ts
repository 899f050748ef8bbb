import { AppList, ErrorBody, UsageQuery, UsageResponse } from '@flotilla/protocol';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { authorize } from '../auth/hook.ts';
import type { TokenStore } from '../auth/tokens.ts';
import type { AppRegistry } from '../checkin/apps.ts';
import type { createUsageService } from './service.ts';

export async function usageRoutes(
  app: FastifyInstance,
  opts: { apps: AppRegistry; usage: ReturnType<typeof createUsageService>; tokens: TokenStore },
) {
  const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody };
  const security = [{ bearer: [] }];
  app.get(
    '/api/v1/apps',
    {
      preHandler: authorize(opts.tokens, 'viewer'),
      schema: {
        tags: ['usage'],
        summary: 'Apps and their check-in configuration',
        security,
        response: { 200: AppList, ...errors },
      },
    },
    async () => ({ apps: opts.apps.summaries() }),
  );
  app.get<{ Params: { app: string }; Querystring: UsageQuery }>(
    '/api/v1/apps/:app/usage',
    {
      preHandler: authorize(opts.tokens, 'viewer'),
      schema: {
        tags: ['usage'],
        summary: "Instances per period, grouped by app version, country or a schema'd tag",
        security,
        params: Type.Object({ app: Type.String() }),
        querystring: UsageQuery,
        response: { 200: UsageResponse, ...errors },
      },
    },
    async (request) => opts.usage.usage(request.params.app, request.query),
  );
}
