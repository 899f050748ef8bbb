import { ErrorBody, TrashItem, type TrashKind, TrashList, TrashQuery } from '@flotilla/protocol';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { authorize } from '../auth/hook.ts';
import { type Principal, type Role, requireRole } from '../auth/tokens.ts';
import type { FeatureDeps } from '../http/feature-deps.ts';
import { createTrashService } from './service.ts';
import { getTrash } from './store.ts';

/** The role that may delete each kind; it may restore and purge it too. */
export const trashRoles: Record<TrashKind, Exclude<Role, 'agent'>> = {
  service: 'developer',
  profile: 'developer',
  environment: 'admin',
  version: 'developer',
};

/** Version deletion, the trash list, restore per kind and purge; the periodic purge runs in maintenance. */
export async function trashRoutes(app: FastifyInstance, deps: FeatureDeps): Promise<void> {
  const trash = createTrashService({
    db: deps.db,
    dataDir: deps.dataDir,
    blobs: deps.blobs,
    retentionMs: deps.config.trashRetentionMs,
    logger: deps.logger,
  });
  const viewer = authorize(deps.tokens, 'viewer');
  const security = [{ bearer: [] }];
  const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody };
  const tags = ['trash'];
  const actor = (request: FastifyRequest) => request.principal as Principal;
  const VersionParams = Type.Object({ service: Type.String(), version: Type.String() });

  app.delete<{ Params: { service: string; version: string } }>(
    '/api/v1/services/:service/versions/:version',
    {
      preHandler: authorize(deps.tokens, trashRoles.version),
      schema: {
        tags: ['catalog'],
        summary: 'Delete a version (restorable for the trash retention)',
        security,
        params: VersionParams,
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (request, reply) => {
      await trash.deleteVersion(actor(request), request.params.service, request.params.version);
      return reply.status(204).send();
    },
  );

  app.get<{ Querystring: TrashQuery }>(
    '/api/v1/trash',
    {
      preHandler: viewer,
      schema: {
        tags,
        summary: 'Deleted items that can still be restored, newest first',
        security,
        querystring: TrashQuery,
        response: { 200: TrashList, ...errors },
      },
    },
    async (request) => ({ items: await trash.list(request.query.kind) }),
  );

  const restoreRoute = (kind: TrashKind, path: string, params: ReturnType<typeof Type.Object>) =>
    app.post<{ Params: Record<string, string> }>(
      path,
      {
        preHandler: authorize(deps.tokens, trashRoles[kind]),
        schema: {
          tags,
          summary: `Restore the most recently deleted ${kind} of that name`,
          security,
          params,
          response: { 200: TrashItem, ...errors },
        },
      },
      async (request) => {
        const p = request.params;
        const name = p.service ?? p.profile ?? p.env ?? '';
        return trash.restore(actor(request), kind, name, kind === 'version' ? p.version : undefined);
      },
    );
  restoreRoute('service', '/api/v1/services/:service/restore', Type.Object({ service: Type.String() }));
  restoreRoute('profile', '/api/v1/profiles/:profile/restore', Type.Object({ profile: Type.String() }));
  restoreRoute('environment', '/api/v1/environments/:env/restore', Type.Object({ env: Type.String() }));
  restoreRoute('version', '/api/v1/services/:service/versions/:version/restore', VersionParams);

  // The role that may delete a kind may restore and purge it; unknown ids answer 404 in the service.
  const requireKindRole = async (request: FastifyRequest<{ Params: { id: string } }>) => {
    const row = await getTrash(deps.db, request.params.id);
    if (row) requireRole(actor(request), trashRoles[row.kind as TrashKind] ?? 'admin');
  };
  const IdParams = Type.Object({ id: Type.String() });

  app.post<{ Params: { id: string } }>(
    '/api/v1/trash/:id/restore',
    {
      preHandler: [viewer, requireKindRole],
      schema: {
        tags,
        summary: 'Restore one deleted item by its id',
        security,
        params: IdParams,
        response: { 200: TrashItem, ...errors },
      },
    },
    async (request) => trash.restoreById(actor(request), request.params.id),
  );

  app.delete<{ Params: { id: string } }>(
    '/api/v1/trash/:id',
    {
      preHandler: [viewer, requireKindRole],
      schema: {
        tags,
        summary: 'Purge a deleted item now, ahead of the retention (it cannot be restored after)',
        security,
        params: IdParams,
        response: { 200: TrashItem, ...errors },
      },
    },
    async (request) => trash.purge(actor(request), request.params.id),
  );
}
