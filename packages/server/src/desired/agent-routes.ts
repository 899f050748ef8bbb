import type { Server } from 'node:http';
import { AgentDesired, AgentDesiredInstanceQuery, AgentStateReport, ErrorBody } from '@flotilla/protocol';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { Type } from 'typebox';
import { agentScopeOf, authorizeAgent, requireInstance } from '../auth/hook.ts';
import type { TokenStore } from '../auth/tokens.ts';
import { Forbidden } from '../errors.ts';
import { errorAnswer, type ThreadPollRoute, type ThreadRoutes } from '../http/thread-routes.ts';
import { createAgentAnswers } from './agent-answers.ts';
import { answerPoll } from './agent-poll.ts';
import type { InstanceService } from './instances-service.ts';
import type { DesiredNotifier } from './long-poll.ts';
import type { DesiredService } from './service.ts';
import type { DesiredSigner } from './signed-desired.ts';

interface Agent {
  environment: string;
  profile: string | null;
  instanceId: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    agent?: Agent;
  }
}

const notifiers = new WeakMap<Server, DesiredNotifier>();

/** The notifier that wakes this server's agent long polls (rollouts wake them when a wave starts). */
export function agentNotifier(server: Server): DesiredNotifier | undefined {
  return notifiers.get(server);
}

export interface AgentRouteDeps {
  tokens: TokenStore;
  service: DesiredService;
  instances: InstanceService;
  notifier: DesiredNotifier;
  /** Signs each desired answer, so agents can tell it came from this server unchanged. */
  signer: DesiredSigner;
  logger: Logger;
  /** Where check-in threads learn the poll route they park themselves. */
  threadRoutes?: ThreadRoutes | undefined;
}

/** The API that host agents call with their `agent` token: the desired list (long poll) and state reports. */
export async function agentRoutes(app: FastifyInstance, deps: AgentRouteDeps): Promise<void> {
  const { service, notifier } = deps;
  notifiers.set(app.server, notifier);
  const answers = createAgentAnswers({ service, signer: deps.signer });
  notifier.onChange((environment) =>
    environment === null ? answers.invalidateAll() : answers.invalidate(environment),
  );
  const pollDeps = { answers, notifier };
  deps.threadRoutes?.addPoll(desiredPollRoute(deps, pollDeps));

  const admitAgent = authorizeAgent(deps.tokens);
  /** Admits only agent tokens, and learns which environment (and profile) the token is bound to. */
  const agentOnly = async (request: FastifyRequest) => {
    await admitAgent(request);
    request.agent = agentScopeOf(request);
  };

  const security = [{ bearer: [] }];
  const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody };

  app.get<{ Querystring: AgentDesiredInstanceQuery }>(
    '/api/v1/agent/desired',
    {
      preHandler: agentOnly,
      schema: {
        tags: ['agent'],
        summary:
          "The agent's desired services; If-None-Match gives 304, ?wait=60s long-polls, ?instance=<id> gets its rollout wave's revision",
        security,
        querystring: AgentDesiredInstanceQuery,
        response: { 200: AgentDesired, 304: Type.Null(), ...errors },
      },
    },
    async (request, reply) => {
      const gone = new AbortController();
      const onClose = () => {
        if (!reply.raw.writableEnded) gone.abort();
      };
      reply.raw.once('close', onClose);
      try {
        const agent = request.agent as Agent;
        const answer = await answerPoll(pollDeps, agent, request.query, request.headers['if-none-match'], gone.signal);
        reply.header('cache-control', 'private, no-cache').header('etag', answer.etag);
        if (answer.status === 304) return reply.code(304).send();
        // Serialised once per distinct answer; the string is sent as it is (it has the AgentDesired shape).
        return reply.type('application/json; charset=utf-8').send(answer.body);
      } finally {
        reply.raw.off('close', onClose);
      }
    },
  );

  app.post<{ Body: AgentStateReport }>(
    '/api/v1/agent/state',
    {
      preHandler: agentOnly,
      // 500 services with 1 KiB texts can exceed the default 1 MiB.
      bodyLimit: 4 * 1024 * 1024,
      schema: {
        tags: ['agent'],
        summary: "Report this instance's services and their state",
        security,
        body: AgentStateReport,
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (request, reply) => {
      await deps.instances.report(request.agent as Agent, request.body);
      return reply.code(204).send();
    },
  );
}

/** The desired-list poll as check-in threads hand it over: parked there, answered here. */
function desiredPollRoute(deps: AgentRouteDeps, pollDeps: Parameters<typeof answerPoll>[0]): ThreadPollRoute {
  return {
    path: '/api/v1/agent/desired',
    async handle(authorization, query, ifNoneMatch, gone) {
      try {
        const principal = await deps.tokens.authenticate(authorization);
        if (principal.role !== 'agent') {
          throw new Forbidden(
            `agent routes take instance credentials; the token "${principal.name}" has ${principal.role}`,
          );
        }
        requireInstance(principal);
        const agent = {
          environment: principal.environment as string,
          profile: principal.profile ?? null,
          instanceId: principal.instanceId as string,
        };
        const params = new URLSearchParams(query);
        const wanted = { wait: params.get('wait') ?? undefined, instance: params.get('instance') ?? undefined };
        const answer = await answerPoll(pollDeps, agent, wanted, ifNoneMatch || undefined, gone);
        const headers = { etag: answer.etag, 'cache-control': 'private, no-cache' };
        return answer.status === 304 ? { status: 304, body: '', headers } : { status: 200, body: answer.body, headers };
      } catch (err) {
        return errorAnswer(err, deps.logger);
      }
    },
  };
}
