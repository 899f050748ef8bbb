import {
  AuditPage,
  AuditQuery,
  CreatedToken,
  CreateTokenBody,
  CreateUserBody,
  ErrorBody,
  LoginBody,
  TokenIdParams,
  TokenInfo,
  TokenList,
  UpdateUserBody,
  UserInfo,
  UserList,
  UserNameParams,
  WhoAmI,
} from '@flotilla/protocol';
import type { FastifyInstance } from 'fastify';
import { authenticated, authorize, principalOf } from '../auth/hook.ts';
import { clusterFor } from '../cluster/cluster.ts';
import type { FeatureDeps } from '../http/feature-deps.ts';
import { LoginThrottle } from './login-throttle.ts';
import { createAccountsService } from './service.ts';

const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody };
const security = [{ bearer: [] }];

export async function accountsRoutes(app: FastifyInstance, deps: FeatureDeps): Promise<void> {
  // The one throttle of this server's login route, its counts shared with the other replicas.
  const throttle = new LoginThrottle();
  throttle.link(clusterFor(deps.db).bus);
  const service = createAccountsService({ db: deps.db, logger: deps.logger, throttle });
  const admin = authorize(deps.tokens, 'admin');
  const anyUser = authorize(deps.tokens, 'viewer');

  app.post<{ Body: CreateUserBody }>(
    '/api/v1/users',
    {
      preHandler: admin,
      schema: {
        tags: ['accounts'],
        summary: 'Create a user (admin)',
        security,
        body: CreateUserBody,
        response: { 201: UserInfo, ...errors },
      },
    },
    async (request, reply) => reply.status(201).send(await service.createUser(principalOf(request), request.body)),
  );

  app.get(
    '/api/v1/users',
    {
      preHandler: admin,
      schema: { tags: ['accounts'], summary: 'List users (admin)', security, response: { 200: UserList, ...errors } },
    },
    async () => ({ users: await service.listUsers() }),
  );

  app.patch<{ Params: UserNameParams; Body: UpdateUserBody }>(
    '/api/v1/users/:name',
    {
      preHandler: admin,
      schema: {
        tags: ['accounts'],
        summary: "Change a user's role, password, or disable them (admin); disabling revokes their tokens",
        security,
        params: UserNameParams,
        body: UpdateUserBody,
        response: { 200: UserInfo, ...errors },
      },
    },
    async (request) => service.updateUser(principalOf(request), request.params.name, request.body),
  );

  app.post<{ Body: LoginBody }>(
    '/api/v1/auth/login',
    {
      schema: {
        tags: ['accounts'],
        summary: 'Exchange a user name and password for a new personal token',
        body: LoginBody,
        response: { 200: CreatedToken, 429: ErrorBody, ...errors },
      },
    },
    // The address only keys the in-memory failure counter; it is never stored or logged.
    async (request) => service.login(request.body, request.ip),
  );

  app.get(
    '/api/v1/tokens',
    {
      preHandler: anyUser,
      schema: {
        tags: ['accounts'],
        summary: 'List tokens: all for admins, your own for others (never the tokens themselves)',
        security,
        response: { 200: TokenList, ...errors },
      },
    },
    async (request) => ({ tokens: await service.listTokens(principalOf(request)) }),
  );

  app.post<{ Body: CreateTokenBody }>(
    '/api/v1/tokens',
    {
      preHandler: anyUser,
      schema: {
        tags: ['accounts'],
        summary: 'Create a personal token for yourself, or an agent token (developer or admin)',
        security,
        body: CreateTokenBody,
        response: { 201: CreatedToken, ...errors },
      },
    },
    async (request, reply) => reply.status(201).send(await service.createToken(principalOf(request), request.body)),
  );

  app.delete<{ Params: TokenIdParams }>(
    '/api/v1/tokens/:id',
    {
      preHandler: anyUser,
      schema: {
        tags: ['accounts'],
        summary: 'Revoke a token (admin, or its owner)',
        security,
        params: TokenIdParams,
        response: { 200: TokenInfo, ...errors },
      },
    },
    async (request) => service.revokeToken(principalOf(request), request.params.id),
  );

  app.get<{ Querystring: AuditQuery }>(
    '/api/v1/audit',
    {
      preHandler: admin,
      schema: {
        tags: ['accounts'],
        summary: 'The audit log, newest first (admin)',
        security,
        querystring: AuditQuery,
        response: { 200: AuditPage, ...errors },
      },
    },
    async (request) => service.audit(request.query),
  );

  app.get(
    '/api/v1/whoami',
    {
      preHandler: authenticated(deps.tokens),
      schema: {
        tags: ['accounts'],
        summary: 'The credential in use: token name, user, role, kind, environment, profile',
        security,
        response: { 200: WhoAmI, ...errors },
      },
    },
    async (request) => service.whoami(principalOf(request)),
  );
}
