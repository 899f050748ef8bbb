/** The pure rules of a rollout: how instances are judged and when the rollout moves on. */

export const rolloutStates = ['running', 'waiting_approval', 'paused', 'completed', 'aborted'] as const;
export type RolloutState = (typeof rolloutStates)[number];
export const activeStates: readonly RolloutState[] = ['running', 'waiting_approval', 'paused'];

export type Outcome = 'succeeded' | 'failed' | 'pending' | 'ignored';

/** Instances silent this long do not count in a wave. */
export const silentAfterMs = 5 * 60_000;

export interface ObservedService {
  service: string;
  version: string | null;
  targetVersion: string | null;
  state: string | null;
  updateError: string | null;
}

export interface Observation {
  lastSeenAt: string;
  services: ObservedService[];
}

/** What the target revision changes: services that must reach a version, and services that must go. */
export interface TargetChange {
  versions: Record<string, string>;
  removed: string[];
}

/**
 * One instance of the current wave: failed when a target version failed to install or run, succeeded
 * when every changed service runs its target version (and removed ones are gone), else pending.
 */
export function judgeInstance(obs: Observation, change: TargetChange, now: number): Outcome {
  if (Date.parse(obs.lastSeenAt) < now - silentAfterMs) return 'ignored';
  const byName = new Map(obs.services.map((s) => [s.service, s]));
  let done = true;
  for (const [service, version] of Object.entries(change.versions)) {
    const s = byName.get(service);
    if (!s) {
      done = false;
      continue;
    }
    const aimsAtTarget = s.version === version || s.targetVersion === version;
    if (aimsAtTarget && (s.state === 'failed' || s.updateError !== null)) return 'failed';
    if (s.version !== version || s.state !== 'running' || s.updateError !== null) done = false;
  }
  for (const service of change.removed) {
    const s = byName.get(service);
    if (s && s.state !== 'stopped') done = false;
  }
  return done ? 'succeeded' : 'pending';
}

export interface WaveCounts {
  instances: number;
  succeeded: number;
  failed: number;
  pending: number;
}

export function countOutcomes(outcomes: Outcome[]): WaveCounts {
  const counts = { instances: 0, succeeded: 0, failed: 0, pending: 0 };
  for (const o of outcomes) {
    if (o === 'ignored') continue;
    counts.instances++;
    counts[o]++;
  }
  return counts;
}

export interface RolloutPolicy {
  successThreshold: number;
  errorThreshold: number;
  onError: 'pause' | 'abort';
  requireApproval: boolean;
  minWaveSeconds: number;
}

export interface RolloutPosition {
  state: RolloutState;
  currentWave: number;
  waveCount: number;
  /** Epoch ms when the current wave started. */
  waveStartedAt: number;
}

export interface Transition {
  state: RolloutState;
  currentWave: number;
  reason: string;
}

/** The next step of a running rollout given its current wave's counts; undefined when it stays as it is. */
export function evaluate(
  pos: RolloutPosition,
  policy: RolloutPolicy,
  counts: WaveCounts,
  now: number,
): Transition | undefined {
  if (pos.state !== 'running') return undefined;
  const size = counts.instances;
  const wave = pos.currentWave + 1;
  if (counts.failed > 0 && counts.failed / size >= policy.errorThreshold) {
    const state = policy.onError === 'abort' ? 'aborted' : 'paused';
    return {
      state,
      currentWave: pos.currentWave,
      reason: `wave ${wave}: ${counts.failed} of ${size} failed (error threshold ${policy.errorThreshold})`,
    };
  }
  // An empty wave has nothing to wait for, so it counts as succeeded.
  const succeeded = size === 0 || counts.succeeded / size >= policy.successThreshold;
  if (!succeeded) return undefined;
  if (now - pos.waveStartedAt < policy.minWaveSeconds * 1000) return undefined;
  const summary = size === 0 ? `wave ${wave} is empty` : `wave ${wave}: ${counts.succeeded} of ${size} succeeded`;
  if (pos.currentWave >= pos.waveCount - 1)
    return { state: 'completed', currentWave: pos.currentWave, reason: summary };
  if (policy.requireApproval) {
    return { state: 'waiting_approval', currentWave: pos.currentWave, reason: `${summary}; waiting for approval` };
  }
  return { state: 'running', currentWave: pos.currentWave + 1, reason: `${summary}; starting wave ${wave + 1}` };
}
