import type { BuildJob } from '@flotilla/protocol';
import { Link } from 'react-router';
import { api } from '../api/client.ts';
import { DataTable } from '../components/data-table.tsx';
import { Command, EmptyState, ErrorNote, formatTime, Loading } from '../components/ui.tsx';
import { useApi } from '../components/use-api.ts';

/** The newest builds queued on the server, with their state; each links to its log. */
export function BuildsPage() {
  const builds = useApi(() => api.builds({ limit: 100 }), []);
  const list = builds.data?.builds ?? [];
  return (
    <>
      <h2>Builds</h2>
      <ErrorNote error={builds.error} title="Builds could not be loaded" />
      {builds.loading && !builds.data ? <Loading what="builds" /> : null}
      {builds.data && list.length === 0 ? (
        <EmptyState title="No builds on the server yet">
          <p>A build queued on the server appears here with its state and log. Queue one from the command line:</p>
          <Command>flotilla build web --source app=https://git.example.com/web.git#main</Command>
        </EmptyState>
      ) : null}
      {list.length > 0 ? (
        <DataTable
          label="Builds"
          columns={[
            { label: 'Build', className: 'num' },
            'Service',
            'Kind',
            'Version',
            'State',
            { label: 'Requested by', className: 'hide-narrow' },
            { label: 'Queued', className: 'hide-narrow' },
          ]}
        >
          {list.map((b) => (
            <tr key={b.id}>
              <td className="num">
                <Link to={`/builds/${b.id}`}>{b.id}</Link>
              </td>
              <td>{b.service}</td>
              <td>
                {b.kind === 'client' ? (
                  <>
                    client of <span className="mono">{b.from}</span>
                    {b.consumer ? ` for consumer ${b.consumer}` : ''}
                  </>
                ) : (
                  'version'
                )}
              </td>
              <td className="mono">{b.resultVersion ?? b.version ?? 'next patch'}</td>
              <td>
                <BuildStateText job={b} />
              </td>
              <td className="hide-narrow">{b.requestedBy}</td>
              <td className="hide-narrow">{formatTime(b.createdAt)}</td>
            </tr>
          ))}
        </DataTable>
      ) : null}
    </>
  );
}

export function BuildStateText({ job }: { job: BuildJob }) {
  const tone = job.state === 'failed' ? 'bad' : job.state === 'succeeded' ? 'good' : '';
  return (
    <span className={tone}>
      {job.state}
      {job.error && job.state !== 'succeeded' ? `: ${job.error}` : ''}
    </span>
  );
}
