import { ErrorBody, PrivateFile, PrivateFileList } from '@flotilla/protocol';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { authorize, principalOf } from '../auth/hook.ts';
import { errorBody } from '../http/error-handler.ts';
import type { FeatureDeps } from '../http/feature-deps.ts';
import { loadPrivateFileKey, type PrivateFileKey } from './cipher.ts';
import { createPrivateFiles, privateFileLimits } from './service.ts';

/** The private files of this server; the server's build jobs read through one too. */
export function privateFilesFor(deps: Pick<FeatureDeps, 'db' | 'dataDir' | 'config'>) {
  // A key given in the environment is checked at start; the data dir's own is made on first upload.
  let key: PrivateFileKey | undefined = deps.config.privateFilesKey
    ? loadPrivateFileKey(deps.dataDir, deps.config.privateFilesKey)
    : undefined;
  return createPrivateFiles({
    db: deps.db,
    key: () => {
      key ??= loadPrivateFileKey(deps.dataDir, deps.config.privateFilesKey);
      return key;
    },
  });
}

/**
 * `/api/v1/services/:service/private-files`: developers upload, list and remove a service's private
 * files; nobody can read one back over the API (builds read them on the server).
 */
export async function privateFileRoutes(app: FastifyInstance, deps: FeatureDeps): Promise<void> {
  const files = privateFilesFor(deps);
  const developer = authorize(deps.tokens, 'developer');
  const tags = ['private files'];
  const security = [{ bearer: [] }];
  const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody };
  const FileParams = Type.Object({ service: Type.String(), '*': Type.String() });

  // The file is the raw body; the limit applies while it is read.
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_request, body, done) =>
    done(null, body),
  );

  app.get<{ Params: { service: string } }>(
    '/api/v1/services/:service/private-files',
    {
      preHandler: developer,
      schema: {
        tags,
        summary: "A service's private files: path, size and sha256, never the content",
        security,
        params: Type.Object({ service: Type.String() }),
        response: { 200: PrivateFileList, ...errors },
      },
    },
    async (request) => ({ files: await files.list(request.params.service) }),
  );

  app.put<{ Params: { service: string; '*': string } }>(
    '/api/v1/services/:service/private-files/*',
    {
      preHandler: developer,
      bodyLimit: privateFileLimits.bytes,
      schema: {
        tags,
        summary: `Upload or replace a private file (raw body, Content-Type: application/octet-stream, at most ${privateFileLimits.bytes} bytes); stored encrypted`,
        security,
        params: FileParams,
        response: { 200: PrivateFile, ...errors, 413: ErrorBody, 415: ErrorBody },
      },
    },
    async (request, reply) => {
      if (!Buffer.isBuffer(request.body))
        return reply
          .status(415)
          .send(errorBody('invalid', 'send the file as the body with Content-Type: application/octet-stream'));
      return files.put(principalOf(request), request.params.service, request.params['*'], request.body);
    },
  );

  app.delete<{ Params: { service: string; '*': string } }>(
    '/api/v1/services/:service/private-files/*',
    {
      preHandler: developer,
      schema: {
        tags,
        summary: 'Remove a private file',
        security,
        params: FileParams,
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (request, reply) => {
      await files.remove(principalOf(request), request.params.service, request.params['*']);
      return reply.status(204).send();
    },
  );
}
