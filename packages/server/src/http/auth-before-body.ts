import type { FastifyInstance, RouteOptions } from 'fastify';

/**
 * Runs every route's `preHandler` at `onRequest`, before the body is read or validated: on this
 * server a route's preHandler checks its credential and role (`authorize`, `authorizeAgent`, …), so a
 * request without a valid one gets 401/403 without the server reading a byte of its body. A hook
 * that needs the parsed body goes in `preValidation` or the handler instead.
 */
export function authenticateBeforeBody(app: FastifyInstance): void {
  app.addHook('onRoute', (route: RouteOptions) => {
    if (!route.preHandler) return;
    const early = [route.preHandler].flat();
    const existing = route.onRequest ? [route.onRequest].flat() : [];
    route.onRequest = [...existing, ...early] as RouteOptions['onRequest'];
    route.preHandler = undefined;
  });
}
