import { Forbidden, Invalid, NotFound } from '../errors.ts';
import type { AgentAnswers } from './agent-answers.ts';
import { type DesiredNotifier, parseWait } from './long-poll.ts';

const maxWaitMs = 120_000;

export interface PollingAgent {
  environment: string;
  profile: string | null;
  instanceId: string;
}

/** What a desired-list poll is answered with: 304 with the ETag, or 200 with the signed body. */
export type PollAnswer = { status: 304; etag: string } | { status: 200; etag: string; body: string };

/**
 * Answers one agent's desired-list request, waiting up to `?wait=` for a change when the agent
 * already has the current answer (If-None-Match). Shared by the HTTP route and the check-in threads,
 * which park polls themselves and hand them over without a socket of their own.
 */
export async function answerPoll(
  deps: { answers: AgentAnswers; notifier: DesiredNotifier },
  agent: PollingAgent,
  query: { wait?: string | undefined; instance?: string | undefined },
  ifNoneMatch: string | undefined,
  gone: AbortSignal,
): Promise<PollAnswer> {
  const { environment, profile, instanceId } = agent;
  const { answers, notifier } = deps;
  // The rollout wave is the credential's instance's; `?instance=` may only repeat it.
  if (query.instance !== undefined && query.instance !== instanceId) {
    throw new Forbidden(`this credential is for instance "${instanceId}", not "${query.instance}"`);
  }
  const waitMs = query.wait === undefined ? 0 : parseWait(query.wait, maxWaitMs);
  if (waitMs === undefined) throw new Invalid(`wait must look like 30s or 2m (at most 120s)`);
  const scope = await answers.profileTag(profile);
  const etag = (revision: number) => `"${environment}-r${revision}${scope}"`;
  const known = parseIfNoneMatch(ifNoneMatch);
  const matches = (revision: number) => known.has(etag(revision)) || known.has('*');
  const revisionNow = async () => {
    const revision = await answers.revisionFor(environment, instanceId);
    if (revision === undefined) throw new NotFound(`no environment "${environment}"`);
    return revision;
  };

  let revision = await revisionNow();
  if (matches(revision) && waitMs > 0) {
    const stop = new AbortController();
    const onGone = () => stop.abort();
    gone.addEventListener('abort', onGone, { once: true });
    try {
      // Ends a little early at random: agents that connected together (a server restart) would
      // otherwise all time out and come back in the same second, again and again.
      const deadline = Date.now() + waitMs * (0.75 + 0.25 * Math.random());
      for (;;) {
        const waiting = notifier.wait(environment, Math.max(0, deadline - Date.now()), stop.signal);
        // Read again after registering, so a change committed since the first read is not missed.
        let reason = 'changed';
        if ((await revisionNow()) !== revision) {
          stop.abort();
          await waiting;
        } else reason = await waiting;
        if (reason === 'changed') revision = await revisionNow();
        if (reason !== 'recheck') break;
        // A missed notice between replicas: answer only if something did change, else wait on.
        const now = await revisionNow();
        if (now !== revision || Date.now() >= deadline) {
          revision = now;
          break;
        }
      }
    } finally {
      gone.removeEventListener('abort', onGone);
    }
  }
  if (matches(revision)) return { status: 304, etag: etag(revision) };
  const answer = await answers.answer(environment, profile, scope, revision);
  return { status: 200, etag: etag(answer.revision), body: answer.body };
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
