import type { Server } from 'node:http';
import { AgentDesired, AgentDesiredInstanceQuery, AgentStateReport, ErrorBody } from '@flotilla/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { agentScopeOf, authorizeAgent } from '../auth/hook.ts';
import type { TokenStore } from '../auth/tokens.ts';
import { Forbidden, Invalid, NotFound } from '../errors.ts';
import type { InstanceService } from './instances-service.ts';
import { type DesiredNotifier, parseWait } from './long-poll.ts';
import type { DesiredService } from './service.ts';
import type { DesiredSigner } from './signed-desired.ts';

const maxWaitMs = 120_000;

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
}

/** The API that host agents call with their `agent` token: the desired list (long poll) and state reports. */
export async function agentRoutes(app: FastifyInstance, deps: AgentRouteDeps): Promise<void> {
  const { service, notifier } = deps;
  notifiers.set(app.server, notifier);

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
      const { environment, profile, instanceId } = request.agent as Agent;
      // The rollout wave is the credential's instance's; `?instance=` may only repeat it.
      if (request.query.instance !== undefined && request.query.instance !== instanceId) {
        throw new Forbidden(`this credential is for instance "${instanceId}", not "${request.query.instance}"`);
      }
      const waitMs = request.query.wait === undefined ? 0 : parseWait(request.query.wait, maxWaitMs);
      if (waitMs === undefined) throw new Invalid(`wait must look like 30s or 2m (at most 120s)`);
      const scope = await service.profileTag(profile);
      const etag = (revision: number) => `"${environment}-r${revision}${scope}"`;
      const known = parseIfNoneMatch(request.headers['if-none-match']);
      const matches = (revision: number) => known.has(etag(revision)) || known.has('*');
      const revisionNow = async () => {
        const revision = await service.agentRevision(environment, instanceId);
        if (revision === undefined) throw new NotFound(`no environment "${environment}"`);
        return revision;
      };

      let revision = await revisionNow();
      if (matches(revision) && waitMs > 0) {
        const reason = await waitForChange(request, reply, notifier, environment, waitMs, async () => {
          // Read again after registering, so a change committed since the first read is not missed.
          return (await revisionNow()) !== revision;
        });
        if (reason === 'changed') revision = await revisionNow();
      }
      reply.header('cache-control', 'private, no-cache');
      if (matches(revision)) return reply.code(304).header('etag', etag(revision)).send();
      const view = await service.agentView(environment, profile, revision);
      const signed = deps.signer.sign({ ...view, profile });
      return reply.header('etag', etag(view.revision)).send({ ...view, ...signed });
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

/** Holds the request until the environment changes, the wait ends, the client leaves, or the server closes. */
async function waitForChange(
  _request: FastifyRequest,
  reply: FastifyReply,
  notifier: DesiredNotifier,
  environment: string,
  waitMs: number,
  changedSince: () => Promise<boolean>,
) {
  const left = new AbortController();
  const onClose = () => {
    if (!reply.raw.writableEnded) left.abort();
  };
  reply.raw.once('close', onClose);
  try {
    const waiting = notifier.wait(environment, waitMs, left.signal);
    if (await changedSince()) {
      left.abort();
      await waiting;
      return 'changed' as const;
    }
    return await waiting;
  } finally {
    reply.raw.off('close', onClose);
  }
}

function parseIfNoneMatch(header: string | undefined): Set<string> {
  if (!header) return new Set();
  return new Set(
    header
      .split(',')
      .map((t) => t.trim().replace(/^W\//, ''))
      .filter(Boolean),
  );
}
