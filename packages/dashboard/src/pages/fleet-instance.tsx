import { Link, useParams } from 'react-router';
import { ApiError, api } from '../api/client.ts';
import { DataTable } from '../components/data-table.tsx';
import { EmptyState, ErrorNote, formatTime, Loading } from '../components/ui.tsx';
import { useApi } from '../components/use-api.ts';
import { useVisibleInterval } from '../components/use-visible-interval.ts';
import { isCalm, ReasonCell, VerdictCell } from './fleet-verdict.tsx';

export function InstancePage() {
  const id = useParams().id ?? '';
  const instance = useApi(() => api.instance(id), [id]);
  // The fleet's verdicts for this instance: the same reasons, and the fault behind a crash loop.
  const fleet = useApi(() => api.fleet({ instance: id }), [id]);
  useVisibleInterval(() => {
    instance.reload();
    fleet.reload();
  }, 15_000);
  const rows = (fleet.data?.services ?? []).flatMap((s) =>
    s.instances.map((row) => ({ ...row, service: s.service, environment: s.environment })),
  );
  const i = instance.data;
  const q = `instance=${encodeURIComponent(id)}`;
  return (
    <>
      <p>
        <Link to="/fleet">← Fleet</Link>
      </p>
      <h2>Instance {id}</h2>
      {instance.error instanceof ApiError && instance.error.status === 404 ? (
        <EmptyState title="No such instance">
          <p>
            No agent has reported an instance named <code>{id}</code>. Instances appear once their agent reports its
            state; pick one on the <Link to="/fleet">Fleet</Link> page.
          </p>
        </EmptyState>
      ) : (
        <ErrorNote error={instance.error} title="The instance could not be loaded" />
      )}
      {instance.loading && !i ? <Loading what="the instance" /> : null}
      {i ? (
        <>
          <p>
            <Link to={`/logs?${q}`}>Logs of {id}</Link> · <Link to={`/faults?${q}`}>Faults of {id}</Link>
          </p>
          <dl className="facts">
            <dt>Environment</dt>
            <dd>{i.environment}</dd>
            <dt>Profile</dt>
            <dd>{i.profile ?? <span className="muted">none (every service)</span>}</dd>
            <dt>Last seen</dt>
            <dd className={i.stale ? 'bad' : undefined}>
              {formatTime(i.lastSeenAt)}
              {i.stale ? ' — stale: the agent stopped reporting' : ''}
            </dd>
            <dt>First seen</dt>
            <dd>{formatTime(i.firstSeenAt)}</dd>
            <dt>Labels</dt>
            <dd>
              {Object.keys(i.labels).length === 0 ? (
                <span className="muted">none</span>
              ) : (
                Object.entries(i.labels).map(([k, v]) => (
                  <span key={k} className="badge">
                    {k}={v}
                  </span>
                ))
              )}
            </dd>
          </dl>
          <h3>Verdicts</h3>
          {fleet.error instanceof ApiError && fleet.error.status === 404 ? null : (
            <ErrorNote error={fleet.error} title="The verdicts could not be loaded" />
          )}
          {fleet.data && rows.length === 0 ? (
            <p className="muted">The environment's desired list names no service for this instance.</p>
          ) : null}
          {rows.length > 0 ? (
            <DataTable label={`Verdicts of ${id}`} columns={['Service', 'Verdict', 'Reason']}>
              {rows.map((r) => (
                <tr key={r.service} data-verdict={r.verdict} className={isCalm(r.verdict) ? undefined : 'alert'}>
                  <th scope="row">{r.service}</th>
                  <VerdictCell row={r} />
                  <ReasonCell row={r} />
                </tr>
              ))}
            </DataTable>
          ) : null}
          <h3>Services</h3>
          {i.services.length === 0 ? (
            <p className="muted">The agent reported no services yet: the environment's desired list may be empty.</p>
          ) : (
            <DataTable
              label={`Services of ${id}`}
              columns={[
                'Service',
                'State',
                'Version',
                'Installing',
                { label: 'Failures', className: 'num' },
                { label: 'Last exit', className: 'num' },
                'Last error',
                { label: 'Started', className: 'hide-narrow' },
                { label: 'State since', className: 'hide-narrow' },
              ]}
            >
              {i.services.map((s) => (
                <tr key={s.service} className={s.state === 'failed' || s.updateError ? 'alert' : undefined}>
                  <th scope="row">{s.service}</th>
                  <td className={s.state === 'failed' ? 'bad' : undefined}>{s.state ?? '—'}</td>
                  <td className="mono">{s.version ?? '—'}</td>
                  <td className="mono">{s.targetVersion ?? ''}</td>
                  <td className="num">{s.failureCount}</td>
                  <td className="num">{s.lastExitCode ?? '—'}</td>
                  <td className={s.updateError ? 'bad' : undefined}>{s.updateError ?? ''}</td>
                  <td className="hide-narrow">{formatTime(s.startedAt)}</td>
                  <td className="hide-narrow">{formatTime(s.updatedAt)}</td>
                </tr>
              ))}
            </DataTable>
          )}
        </>
      ) : null}
    </>
  );
}
