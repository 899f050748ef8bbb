import type { DriftUpstreamStatus } from '@flotilla/protocol';
import { DataTable } from '../components/data-table.tsx';
import { EmptyState, ErrorNote, formatTime, Loading } from '../components/ui.tsx';
import { useApi } from '../components/use-api.ts';
import { driftApi, formatAge } from './drift-api.ts';
import { DriftTabs } from './drift-parts.tsx';

export function DriftUpstreamsPage() {
  const upstreams = useApi(() => driftApi.upstreams(), []);
  const list = upstreams.data ?? [];
  return (
    <>
      <h2>Drift upstreams</h2>
      <DriftTabs current="upstreams" />
      <p className="muted">
        Each distinct upstream is asked at most once per interval, however many trackers name it. A failed fetch keeps
        the last good list: its age and the error show here.
      </p>
      <ErrorNote error={upstreams.error} title="Upstream status could not be loaded" />
      {upstreams.loading && !upstreams.data ? <Loading what="upstream status" /> : null}
      {upstreams.data && list.length === 0 ? (
        <EmptyState title="No upstreams yet">
          <p>An upstream appears here once a reported subject names one (its tracker's remoteVersion, or its image).</p>
        </EmptyState>
      ) : null}
      {list.length > 0 ? (
        <DataTable
          label="Upstream fetch status"
          columns={[
            'Upstream',
            'Provider',
            { label: 'Subjects', className: 'num' },
            'Latest',
            'Last good list',
            'Error',
            { label: 'Quota', className: 'hide-narrow' },
          ]}
        >
          {list.map((u) => (
            <UpstreamRow key={u.key} u={u} />
          ))}
        </DataTable>
      ) : null}
    </>
  );
}

function UpstreamRow({ u }: { u: DriftUpstreamStatus }) {
  return (
    <tr className={u.error ? 'alert' : undefined} data-upstream={u.key}>
      <th scope="row" className="mono drift-key">
        {u.key}
      </th>
      <td>{u.provider}</td>
      <td className="num">{u.subjects}</td>
      <td className="mono nowrap">{u.latest ?? '—'}</td>
      <td>
        {u.fetchedAt ? (
          <>
            {formatAge(u.ageSeconds)} old
            {typeof u.versions === 'number' ? `, ${u.versions} versions` : ''}
          </>
        ) : (
          'none yet'
        )}
      </td>
      <td className="drift-error">
        {u.error ? (
          <>
            <span className="bad">{u.error}</span>{' '}
            <span className="muted">
              {u.errorAt ? `at ${formatTime(u.errorAt)}` : ''}
              {u.failures > 1 ? `, ${u.failures} failures in a row` : ''}
              {u.retryAt ? `, next try ${formatTime(u.retryAt)}` : ''}
            </span>
          </>
        ) : (
          <span className="good">none</span>
        )}
      </td>
      <td className="hide-narrow">{quotaText(u.rateLimit)}</td>
    </tr>
  );
}

function quotaText(q: DriftUpstreamStatus['rateLimit']): string {
  if (!q || (q.remaining === undefined && q.limit === undefined)) return '—';
  const left = q.remaining === undefined ? '?' : String(q.remaining);
  const text = q.limit === undefined ? `${left} left` : `${left} of ${q.limit} left`;
  return q.resetAt ? `${text}, resets ${formatTime(q.resetAt)}` : text;
}
