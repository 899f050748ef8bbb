import type { DesiredRevision } from '@flotilla/protocol';
import { useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { api } from '../api/client.ts';
import { DataTable } from '../components/data-table.tsx';
import { EnvironmentPicker, useEnvironmentChoice } from '../components/environment-picker.tsx';
import { NewestOlderPager } from '../components/pager.tsx';
import { Command, EmptyState, ErrorNote, formatTime, Loading } from '../components/ui.tsx';
import { useAction } from '../components/use-action.ts';
import { useApi } from '../components/use-api.ts';
import { useCan } from '../session.tsx';
import { diffAgainstNewest } from './desired-diff.ts';
import { DesiredEditor } from './desired-editor.tsx';
import { ActiveRolloutPanel, useActiveRollout } from './desired-rollout.tsx';
import { RollbackForm } from './rollback-form.tsx';

const historyPage = 20;

export function DesiredPage() {
  const choice = useEnvironmentChoice();
  const { env } = choice;
  return (
    <>
      <h2>Desired versions</h2>
      <EnvironmentPicker choice={choice} formLabel="Environment">
        An environment (say <code>staging</code> or <code>production</code>) has one list of desired versions. Create
        one in <Link to="/settings?tab=environments">Settings</Link> or with
      </EnvironmentPicker>
      {env ? <EnvironmentDesired key={env} env={env} /> : null}
    </>
  );
}

function EnvironmentDesired({ env }: { env: string }) {
  const [params, setParams] = useSearchParams();
  const canEdit = useCan('developer');
  const current = useApi(() => api.desired(env), [env]);
  const newest = current.data;
  const rev = params.has('rev') ? Number(params.get('rev')) : (newest?.revision ?? 0);
  const viewed = useApi(
    () => (newest && rev !== newest.revision ? api.desired(env, rev) : Promise.resolve(newest)),
    [env, rev, newest],
  );
  const [before, setBefore] = useState<number | undefined>();
  const history = useApi(() => api.history(env, { limit: historyPage, before }), [env, before, newest]);
  const action = useAction();
  const [notice, setNotice] = useState<string>();
  const [editing, setEditing] = useState(false);
  const rollout = useActiveRollout(env);
  const [rollingBack, setRollingBack] = useState(false);

  function view(revision: number | null) {
    setRollingBack(false);
    const p = new URLSearchParams(params);
    if (revision === null) p.delete('rev');
    else p.set('rev', String(revision));
    setParams(p);
  }
  function act(what: () => Promise<string>) {
    setNotice(undefined);
    action.run(async () => {
      setNotice(await what());
      current.reload();
    });
  }
  function saved(r: DesiredRevision) {
    setEditing(false);
    setNotice(`Saved as revision ${r.revision}.`);
    view(null);
    current.reload();
  }

  if (current.error) return <ErrorNote error={current.error} title="The desired list could not be loaded" />;
  if (!newest) return <Loading what="desired versions" />;
  const shown = viewed.data;
  const isNewest = rev === newest.revision;
  return (
    <>
      <ActiveRolloutPanel loaded={rollout} canEdit={canEdit} onChanged={current.reload} />
      <section className="card" aria-labelledby="revision-title">
        <h3 id="revision-title">
          Revision {rev} {isNewest ? '(current)' : `of ${newest.revision}`}
        </h3>
        <div className="pager">
          <button type="button" disabled={rev <= 0} onClick={() => view(rev - 1)} aria-label="Older revision">
            ◀ Older
          </button>
          <button
            type="button"
            disabled={isNewest}
            onClick={() => view(rev + 1 >= newest.revision ? null : rev + 1)}
            aria-label="Newer revision"
          >
            Newer ▶
          </button>
          {shown ? (
            <span className="muted">
              {formatTime(shown.createdAt)} by {shown.author}
              {shown.comment ? ` — ${shown.comment}` : ''}
            </span>
          ) : null}
        </div>
        <ErrorNote error={viewed.error} title="That revision could not be loaded" />
        <ErrorNote error={action.error} />
        {notice ? (
          <p className="notice" role="status">
            {notice}
          </p>
        ) : null}
        {editing && isNewest ? (
          <DesiredEditor env={env} current={newest} onSaved={saved} onCancel={() => setEditing(false)} />
        ) : shown ? (
          <RevisionTable viewed={shown} newest={newest} />
        ) : null}
        {canEdit && !editing ? (
          <div className="pager">
            {isNewest ? (
              // During a rollout the list changes only through the rollout (or a rollback that aborts it).
              rollout.data ? null : (
                <button type="button" onClick={() => setEditing(true)}>
                  Edit versions
                </button>
              )
            ) : (
              <button type="button" className="primary" onClick={() => setRollingBack(true)} disabled={rollingBack}>
                Roll back to revision {rev}…
              </button>
            )}
            <button
              type="button"
              onClick={() =>
                act(async () => {
                  const r = await api.markTested(env, rev);
                  return `Marked ${r.marked.length} version(s) of revision ${r.revision} as tested in ${env}.`;
                })
              }
            >
              Mark revision {rev} tested
            </button>
          </div>
        ) : null}
        {canEdit && rollingBack && !isNewest ? (
          <RollbackForm
            env={env}
            revision={rev}
            rollout={rollout.data}
            onCancel={() => setRollingBack(false)}
            onDone={(r) => {
              setNotice(`Revision ${rev} is current again, as revision ${r.revision}.`);
              view(null);
              current.reload();
              rollout.reload();
            }}
          />
        ) : null}
      </section>
      <section aria-labelledby="history-title">
        <h3 id="history-title">History</h3>
        <ErrorNote error={history.error} title="The history could not be loaded" />
        <DataTable label="Revision history" columns={['Revision', 'Author', 'Time', 'Comment']}>
          {history.data?.revisions.map((r) => (
            <tr key={r.revision} className={r.revision === rev ? 'selected' : undefined}>
              <th scope="row">
                <button
                  type="button"
                  aria-label={`Show revision ${r.revision}`}
                  onClick={() => view(r.revision === newest.revision ? null : r.revision)}
                >
                  {r.revision}
                </button>
              </th>
              <td>{r.author}</td>
              <td>{formatTime(r.createdAt)}</td>
              <td>{r.comment ?? ''}</td>
            </tr>
          ))}
        </DataTable>
        <NewestOlderPager
          what="revisions"
          onNewest={before !== undefined ? () => setBefore(undefined) : undefined}
          onOlder={
            history.data?.revisions.length === historyPage
              ? () => setBefore(history.data?.revisions.at(-1)?.revision)
              : undefined
          }
        />
      </section>
    </>
  );
}

const stateLabel = { same: '', changed: 'changed', removed: 'not in this revision', added: 'only in this revision' };

function RevisionTable({ viewed, newest }: { viewed: DesiredRevision; newest: DesiredRevision }) {
  const rows = diffAgainstNewest(viewed.versions, newest.versions);
  if (rows.length === 0) {
    return (
      <EmptyState title="This list is empty">
        <p>Choose "Edit versions" to add a service's version, or run</p>
        <Command>{`flotilla desired set ${viewed.environment} my-service=1.0.0`}</Command>
      </EmptyState>
    );
  }
  const old = viewed.revision !== newest.revision;
  return (
    <div className="table-wrap">
      <table aria-label={`Desired versions at revision ${viewed.revision}`}>
        <thead>
          <tr>
            <th scope="col">Service</th>
            <th scope="col">Version</th>
            {old ? <th scope="col">Current</th> : null}
            {old ? <th scope="col">Against current</th> : null}
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.service} className={r.state === 'same' ? undefined : r.state} data-state={r.state}>
              <th scope="row">{r.service}</th>
              <td>{r.version ?? r.newest}</td>
              {old ? <td>{r.newest ?? '—'}</td> : null}
              {old ? <td>{stateLabel[r.state]}</td> : null}
            </tr>
          ))}
        </tbody>
      </table>
      {old ? (
        <p className="muted">
          Against the current revision: <span className="changed">bold</span> changed,{' '}
          <span className="removed">red</span> not in this revision, <span className="added">green</span> only in this
          revision.
        </p>
      ) : null}
    </div>
  );
}
