import type { Rollout } from '@flotilla/protocol';
import { type ReactNode, useEffect, useState } from 'react';
import { Link, useLocation } from 'react-router';
import { api } from '../api/client.ts';
import { DataTable } from '../components/data-table.tsx';
import { EnvironmentPicker, useEnvironmentChoice } from '../components/environment-picker.tsx';
import { Command, EmptyState, ErrorNote, formatTime, Loading } from '../components/ui.tsx';
import { useAction } from '../components/use-action.ts';
import { useApi } from '../components/use-api.ts';
import { useVisibleInterval } from '../components/use-visible-interval.ts';
import { useCan } from '../session.tsx';
import { changeText, stateText } from './rollout-change.ts';
import { RolloutStartForm } from './rollout-start-form.tsx';

const active = new Set(['running', 'waiting_approval', 'paused']);
const shownFinished = 10;

export function RolloutsPage() {
  const choice = useEnvironmentChoice();
  const { list, env, choose } = choice;
  const canEdit = useCan('developer');
  const rollouts = useApi(() => (env ? api.rollouts(env) : Promise.resolve({ rollouts: [] })), [env]);
  const running = rollouts.data?.rollouts.find((r) => active.has(r.state));
  const anyActive = running !== undefined;
  // Live while visible: every 5 s while a rollout moves, every 30 s otherwise.
  useVisibleInterval(rollouts.reload, anyActive ? 5000 : 30_000, env !== '');

  return (
    <>
      <h2>Rollouts</h2>
      <EnvironmentPicker choice={choice} formLabel="Choose an environment">
        A rollout moves one environment to a new list of desired versions, a few machines at a time. Create an
        environment in <Link to="/settings?tab=environments">Settings</Link> or with
      </EnvironmentPicker>
      {canEdit && running ? (
        <p className="card notice" role="note">
          A rollout is {stateText(running.state)} in {env} ({changeText(running.changes)}): start the next one when it
          completes or is aborted. <a href={`#rollout-${running.id}`}>Go to the {stateText(running.state)} rollout</a>
        </p>
      ) : canEdit && list.length > 0 && rollouts.data ? (
        <RolloutStartForm
          key={env}
          environments={list}
          env={env}
          onStarted={(r) => {
            if (r.environment === env) rollouts.reload();
            else choose(r.environment);
          }}
        />
      ) : null}
      {env ? <RolloutList env={env} loaded={rollouts} canEdit={canEdit} /> : null}
    </>
  );
}

function RolloutList({
  env,
  loaded,
  canEdit,
}: {
  env: string;
  loaded: ReturnType<typeof useApi<{ rollouts: Rollout[] }>>;
  canEdit: boolean;
}) {
  const [all, setAll] = useState(false);
  const { hash } = useLocation();
  const ready = loaded.data !== undefined;
  // A link to one rollout (#rollout-<id>) lands on its card once the list is there.
  useEffect(() => {
    if (!ready || !hash.startsWith('#rollout-')) return;
    const card = document.getElementById(decodeURIComponent(hash.slice(1)));
    card?.scrollIntoView({ block: 'start' });
    card?.focus();
  }, [ready, hash]);
  if (loaded.error) return <ErrorNote error={loaded.error} title="Rollouts could not be loaded" />;
  if (!loaded.data) return <Loading what="rollouts" />;
  const rollouts = loaded.data.rollouts;
  if (rollouts.length === 0) {
    return (
      <EmptyState title={`No rollouts in ${env}`}>
        <p>Start one with the form above, or from the command line:</p>
        <Command>{`flotilla rollout start ${env} web=2.0.0 --waves 10,50,100`}</Command>
      </EmptyState>
    );
  }
  const shown = all ? rollouts : rollouts.slice(0, shownFinished);
  return (
    <>
      {shown.map((r) => (
        <RolloutCard key={r.id} rollout={r} canEdit={canEdit} onChanged={loaded.reload} />
      ))}
      {rollouts.length > shown.length ? (
        <button type="button" onClick={() => setAll(true)}>
          Show all {rollouts.length} rollouts
        </button>
      ) : null}
    </>
  );
}

const actionsOf: Record<string, ('approve' | 'resume' | 'pause')[]> = {
  running: ['pause'],
  waiting_approval: ['approve', 'pause'],
  paused: ['resume'],
};

/** One rollout: what it changes, its waves against the thresholds, its actions and its history. */
export function RolloutCard({
  rollout: r,
  canEdit,
  onChanged,
  children,
}: {
  rollout: Rollout;
  canEdit: boolean;
  onChanged: () => void;
  /** Shown under the summary, e.g. a link to the Rollouts page. */
  children?: ReactNode;
}) {
  const { error, busy, run } = useAction();
  const [confirming, setConfirming] = useState(false);
  const isActive = active.has(r.state);

  function act(action: 'pause' | 'resume' | 'approve' | 'abort') {
    run(async () => {
      await api.rolloutAction(r.id, action);
      setConfirming(false);
      onChanged();
    });
  }

  const change = changeText(r.changes);
  const title = `Rollout to revision ${r.targetRevision}: ${change}`;
  return (
    <section className="card" aria-label={title} data-rollout={r.id} id={`rollout-${r.id}`} tabIndex={-1}>
      <h3>
        {change} <span className={`badge state-${r.state}`}>{stateText(r.state)}</span>
      </h3>
      <p className="muted">
        Revision {r.baseRevision} → {r.targetRevision}; started {formatTime(r.createdAt)} by {r.createdBy}
        {r.comment ? ` — ${r.comment}` : ''}. Success at {pct(r.successThreshold)}, stop at {pct(r.errorThreshold)}{' '}
        failed ({r.onError}){r.requireApproval ? '; approval after each wave' : ''}
        {r.minWaveSeconds ? `; waves last at least ${r.minWaveSeconds} s` : ''}.
        {r.finishedAt ? ` Finished ${formatTime(r.finishedAt)}.` : ''}
      </p>
      {children}
      <DataTable
        label={`Waves of ${title}`}
        columns={[
          'Wave',
          'Plan',
          { label: 'Instances', className: 'num hide-narrow' },
          'Succeeded',
          'Failed',
          { label: 'Pending', className: 'num hide-narrow' },
        ]}
      >
        {r.waves.map((w) => {
          const current = w.index === r.currentWave && isActive;
          return (
            <tr key={w.index} className={current ? 'selected' : undefined} aria-current={current ? 'step' : undefined}>
              <th scope="row">
                {w.index + 1}
                {current ? <span className="muted"> (current)</span> : null}
              </th>
              <td>
                {'percent' in w.wave
                  ? `${w.wave.percent}%`
                  : Object.entries(w.wave.selector)
                      .map(([k, v]) => `${k}=${v}`)
                      .join(', ')}
              </td>
              <td className="num hide-narrow">{w.instances}</td>
              <td>
                <ThresholdBar kind="success" count={w.succeeded} of={w.instances} threshold={r.successThreshold} />
              </td>
              <td>
                <ThresholdBar kind="error" count={w.failed} of={w.instances} threshold={r.errorThreshold} />
              </td>
              <td className="num hide-narrow">{w.pending}</td>
            </tr>
          );
        })}
      </DataTable>
      <ErrorNote error={error} title="The action failed" />
      {canEdit && isActive ? (
        <div className="pager">
          {(actionsOf[r.state] ?? []).map((a) => (
            <button
              key={a}
              type="button"
              className={a === 'approve' ? 'primary' : undefined}
              disabled={busy}
              onClick={() => act(a)}
            >
              {a[0]?.toUpperCase()}
              {a.slice(1)}
            </button>
          ))}
          {confirming ? (
            <span className="confirm" role="alert">
              Abort and return everyone to revision {r.baseRevision}?
              <button type="button" className="danger" disabled={busy} onClick={() => act('abort')}>
                Yes, abort
              </button>
              <button type="button" onClick={() => setConfirming(false)}>
                Keep going
              </button>
            </span>
          ) : (
            <button type="button" className="danger" onClick={() => setConfirming(true)}>
              Abort…
            </button>
          )}
        </div>
      ) : null}
      <details>
        <summary>History ({r.history.length})</summary>
        <ul className="list">
          {r.history.map((h) => (
            <li key={`${h.at}-${h.to}-${h.wave}`}>
              {formatTime(h.at)}: {h.from ?? 'start'} → {h.to} at wave {h.wave + 1} by {h.actor}
              {h.reason ? ` — ${h.reason}` : ''}
            </li>
          ))}
        </ul>
      </details>
    </section>
  );
}

const pct = (share: number) => `${Math.round(share * 1000) / 10}%`;

/** A bar of `count` of `of`, with a mark at the threshold, and the numbers in words. */
function ThresholdBar({
  kind,
  count,
  of,
  threshold,
}: {
  kind: 'success' | 'error';
  count: number;
  of: number;
  threshold: number;
}) {
  const share = of === 0 ? 0 : count / of;
  const reached = of > 0 && (kind === 'success' ? share >= threshold : count > 0 && share >= threshold);
  const label = `${count} of ${of} (${pct(share)}; threshold ${pct(threshold)})`;
  return (
    <div className="threshold">
      <div className={`bar bar-${kind}${reached ? ' reached' : ''}`} aria-hidden="true">
        <span className="fill" style={{ width: `${share * 100}%` }} />
        <span className="mark" style={{ left: `${threshold * 100}%` }} />
      </div>
      <span className="bar-text">{label}</span>
    </div>
  );
}
