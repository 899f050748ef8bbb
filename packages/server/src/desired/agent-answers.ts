import type { DesiredService } from './service.ts';
import type { DesiredSigner } from './signed-desired.ts';

/** A desired answer as sent: its ETag and its JSON body, serialised and signed once for every agent it fits. */
export interface AgentAnswer {
  revision: number;
  body: string;
}

export interface AgentAnswersDeps {
  service: Pick<DesiredService, 'agentRevision' | 'agentView' | 'environmentRevisionState' | 'profileTag'>;
  signer: Pick<DesiredSigner, 'sign'>;
  /** How long a computed answer may be reused without a change notice (catalog edits do not notify). */
  ttlMs?: number;
  now?: () => number;
}

interface Entry<T> {
  value: Promise<T>;
  generation: number;
  expires: number;
}

const maxEntries = 10_000;

/**
 * What parked agent polls are answered with, shared between them: a change wakes thousands of polls at
 * once, and each would otherwise read the revision, build the view, sign it and serialise it alone.
 * Entries are dropped when their environment changes (the notifier) and after `ttlMs` at the latest.
 */
export function createAgentAnswers(deps: AgentAnswersDeps) {
  const ttlMs = deps.ttlMs ?? 2000;
  const now = deps.now ?? Date.now;
  const generations = new Map<string, number>();
  const states = new Map<string, Entry<{ current: number | undefined; rollout: boolean }>>();
  const answers = new Map<string, Entry<AgentAnswer>>();
  const tags = new Map<string, Entry<string>>();

  const generationOf = (environment: string) => generations.get(environment) ?? 0;

  function memo<T>(map: Map<string, Entry<T>>, key: string, environment: string, make: () => Promise<T>): Promise<T> {
    const generation = generationOf(environment);
    const hit = map.get(key);
    if (hit && hit.generation === generation && hit.expires > now()) return hit.value;
    if (map.size >= maxEntries) map.clear();
    const value = make();
    const entry = { value, generation, expires: now() + ttlMs };
    map.set(key, entry);
    // A failure is not remembered: the next caller tries again.
    value.catch(() => {
      if (map.get(key) === entry) map.delete(key);
    });
    return value;
  }

  return {
    /** The revision `instanceId` should run; read once per environment unless a rollout assigns waves. */
    async revisionFor(environment: string, instanceId: string): Promise<number | undefined> {
      const state = await memo(states, environment, environment, () =>
        deps.service.environmentRevisionState(environment),
      );
      if (!state.rollout) return state.current;
      return deps.service.agentRevision(environment, instanceId);
    },

    /** The ETag suffix of a profile's agents (it changes when the profile's services change). */
    profileTag(profile: string | null): Promise<string> {
      if (profile === null) return Promise.resolve('');
      return memo(tags, profile, '', () => deps.service.profileTag(profile));
    },

    /** The signed answer for `revision` of `environment` as agents of `profile` (with its `scope` tag) see it. */
    answer(environment: string, profile: string | null, scope: string, revision: number): Promise<AgentAnswer> {
      const key = JSON.stringify([environment, profile, scope, revision]);
      return memo(answers, key, environment, async () => {
        const view = await deps.service.agentView(environment, profile, revision);
        const signed = deps.signer.sign({ ...view, profile });
        return { revision: view.revision, body: JSON.stringify({ ...view, ...signed }) };
      });
    },

    /** Drops what was computed for `environment`; call before its waiting polls are woken. */
    invalidate(environment: string): void {
      generations.set(environment, generationOf(environment) + 1);
    },

    /** Drops everything computed (a change notice from another replica may have been missed). */
    invalidateAll(): void {
      states.clear();
      answers.clear();
      tags.clear();
    },
  };
}

export type AgentAnswers = ReturnType<typeof createAgentAnswers>;
