import type { FastifyInstance } from 'fastify';
import type { FeatureDeps } from '../http/feature-deps.ts';

export async function desiredRoutes(_app: FastifyInstance, _deps: FeatureDeps): Promise<void> {}
