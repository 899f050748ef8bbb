import type { RolloutChange } from '@flotilla/protocol';

/** A rollout's change in words: `web 1.1.0 → 1.2.0, api 2.0.0 added, worker removed`. */
export function changeText(changes: readonly RolloutChange[]): string {
  if (changes.length === 0) return 'no version change';
  return changes
    .map((c) =>
      c.from === null
        ? `${c.service} ${c.to} added`
        : c.to === null
          ? `${c.service} ${c.from} removed`
          : `${c.service} ${c.from} → ${c.to}`,
    )
    .join(', ');
}

/** Where the Rollouts page shows one rollout. */
export function rolloutHref(environment: string, id: string): string {
  return `/rollouts?env=${encodeURIComponent(environment)}#rollout-${id}`;
}

/** A rollout state as people say it: `waiting approval`. */
export const stateText = (state: string): string => state.replace('_', ' ');
