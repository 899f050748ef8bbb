import type { Rollout } from '@flotilla/protocol';
import { Link } from 'react-router';
import { api } from '../api/client.ts';
import { ErrorNote } from '../components/ui.tsx';
import { type Loaded, useApi } from '../components/use-api.ts';
import { useVisibleInterval } from '../components/use-visible-interval.ts';
import { rolloutHref, stateText } from './rollout-change.ts';
import { RolloutCard } from './rollouts.tsx';

/** The environment's active rollout, if any, kept fresh while the page is visible. */
export function useActiveRollout(env: string): Loaded<Rollout | null> {
  const loaded = useApi(async () => (await api.rollouts(env, { active: 'true' })).rollouts[0] ?? null, [env]);
  useVisibleInterval(loaded.reload, loaded.data ? 5000 : 30_000);
  return loaded;
}

/**
 * The active rollout on the Desired page: while it runs, agents are served its base or target
 * revision by wave, and the list cannot be edited, so it is shown before the list with its actions.
 */
export function ActiveRolloutPanel({
  loaded,
  canEdit,
  onChanged,
}: {
  loaded: Loaded<Rollout | null>;
  canEdit: boolean;
  onChanged: () => void;
}) {
  const r = loaded.data;
  if (loaded.error) return <ErrorNote error={loaded.error} title="The active rollout could not be loaded" />;
  if (!r) return null;
  return (
    <RolloutCard
      rollout={r}
      canEdit={canEdit}
      onChanged={() => {
        loaded.reload();
        onChanged();
      }}
    >
      <p>
        A rollout is {stateText(r.state)} here: instances get revision {r.targetRevision} wave by wave, the others stay
        on revision {r.baseRevision}, and the list cannot be edited until it completes or is aborted.{' '}
        <Link to={rolloutHref(r.environment, r.id)}>Open it on the Rollouts page</Link>
      </p>
    </RolloutCard>
  );
}
