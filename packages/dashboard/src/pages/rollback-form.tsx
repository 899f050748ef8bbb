import type { DesiredRevision, ErrorRollout } from '@flotilla/protocol';
import { type FormEvent, useState } from 'react';
import { Link } from 'react-router';
import { ApiError, api } from '../api/client.ts';
import { ErrorNote } from '../components/ui.tsx';
import { useAction } from '../components/use-action.ts';
import { changeText, rolloutHref, stateText } from './rollout-change.ts';

/**
 * "Roll back": asks for a confirmation and a comment. During a rollout it says so and offers to abort
 * the rollout in the same step (the request says `abortRollout`, so nothing is aborted unasked); a
 * rollout that started meanwhile comes back as `rollout_active` and gets the same offer.
 */
export function RollbackForm({
  env,
  revision,
  rollout,
  onDone,
  onCancel,
}: {
  env: string;
  revision: number;
  /** The active rollout the page knows of. */
  rollout: ErrorRollout | null | undefined;
  onDone: (written: DesiredRevision) => void;
  onCancel: () => void;
}) {
  const [comment, setComment] = useState('');
  const [refusedBy, setRefusedBy] = useState<ErrorRollout>();
  const { error, busy, run } = useAction();
  const blocking = refusedBy ?? rollout ?? undefined;

  function submit(e: FormEvent) {
    e.preventDefault();
    run(async () => {
      try {
        onDone(await api.rollback(env, revision, comment.trim(), blocking !== undefined));
      } catch (err) {
        if (err instanceof ApiError && err.code === 'rollout_active' && err.rollout) {
          setRefusedBy(err.rollout);
          return;
        }
        throw err;
      }
    });
  }

  return (
    <form className="card" onSubmit={submit} aria-label={`Roll back ${env} to revision ${revision}`}>
      <p>
        Roll back <strong>{env}</strong> to revision {revision}? Its list becomes current again as a new revision, and
        agents move to it on their next poll.
      </p>
      {blocking ? (
        <p className="warning" role="alert">
          A rollout is {stateText(blocking.state)} in {env}: {changeText(blocking.changes)} (rollout {blocking.id}). It
          must end first: "Abort the rollout and roll back" aborts it and rolls back in one step.{' '}
          <Link to={rolloutHref(env, blocking.id)}>See the rollout</Link>
        </p>
      ) : null}
      <div className="inline-form">
        <label>
          Comment (why)
          <input value={comment} onChange={(e) => setComment(e.target.value)} required maxLength={1024} />
        </label>
        <button type="submit" className="danger" disabled={busy || comment.trim() === ''}>
          {blocking ? 'Abort the rollout and roll back' : `Roll back to revision ${revision}`}
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
      <ErrorNote error={error} title="Not rolled back" />
    </form>
  );
}
