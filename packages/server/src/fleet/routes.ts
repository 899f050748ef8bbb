import { ErrorBody, FleetQuery, FleetView } from '@flotilla/protocol';
import type { FastifyInstance } from 'fastify';
import { authorize } from '../auth/hook.ts';
import type { FeatureDeps } from '../http/feature-deps.ts';
import { createFleetService } from './service.ts';

export interface FleetRouteDeps extends FeatureDeps {
  /** How long an instance may stay silent before it is shown as stale (as the desired feature uses). */
  instanceExpiryMs?: number;
}

export async function fleetRoutes(app: FastifyInstance, deps: FleetRouteDeps): Promise<void> {
  const fleet = createFleetService({ db: deps.db, expiryMs: deps.instanceExpiryMs });
  app.get<{ Querystring: FleetQuery }>(
    '/api/v1/fleet',
    {
      preHandler: authorize(deps.tokens, 'viewer'),
      schema: {
        tags: ['fleet'],
        summary: 'Per environment and desired service: the desired version against what each instance runs',
        security: [{ bearer: [] }],
        querystring: FleetQuery,
        response: { 200: FleetView, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody },
      },
    },
    async (request) => fleet.view(request.query),
  );
}
