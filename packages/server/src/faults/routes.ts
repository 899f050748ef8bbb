import type { FastifyInstance } from 'fastify';
import type { FeatureDeps } from '../http/feature-deps.ts';

export async function faultsRoutes(_app: FastifyInstance, _deps: FeatureDeps): Promise<void> {}
