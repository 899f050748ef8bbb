import { Link } from 'react-router';
import { api } from '../api/client.ts';
import { DataTable } from '../components/data-table.tsx';
import {
  type Filters,
  ServiceInstanceFields,
  TimeRangeFields,
  useFilterDraft,
  useUrlFilters,
} from '../components/filter-form.tsx';
import { NewestOlderPager } from '../components/pager.tsx';
import { EmptyState, ErrorNote, formatBytes, formatTime, Loading } from '../components/ui.tsx';
import { useApi } from '../components/use-api.ts';
import { useSearchPatch } from '../components/use-search-patch.ts';
import { describe } from './fault-reason.ts';

const pageSize = 50;
const fields = ['service', 'instance', 'from', 'to'] as const;
type FaultFilters = Filters<(typeof fields)[number]>;

export function FaultsPage() {
  const { filters, key, search } = useUrlFilters(fields);
  const [params, go] = useSearchPatch();
  const cursor = params.get('cursor');
  const faults = useApi(() => api.faults({ ...filters, limit: pageSize, cursor }), [key, cursor]);
  const list = faults.data?.faults ?? [];
  const filtered = Object.keys(filters).length > 0;
  const next = faults.data?.nextCursor;

  return (
    <>
      <h2>Faults</h2>
      <FilterForm key={key} filters={filters} onSearch={search} />
      <ErrorNote error={faults.error} title="Fault reports could not be loaded" />
      {faults.loading && !faults.data ? <Loading what="fault reports" /> : null}
      {faults.data && list.length === 0 && !cursor ? (
        filtered ? (
          <EmptyState title="No matching fault reports">
            <p>Nothing matches these filters. Clear them or widen the time range.</p>
          </EmptyState>
        ) : (
          <EmptyState title="No fault reports yet">
            <p>
              A fault report appears here when a supervised service exits unexpectedly (a crash, a failed start, a
              memory or CPU limit, a failed health check): the agent on that host packs the service's state, its last
              log lines and matching files such as core dumps, and uploads them. Nothing to do but run agents; the
              command line lists the same reports with <code>flotilla faults list</code>.
            </p>
          </EmptyState>
        )
      ) : null}
      {list.length > 0 ? (
        <DataTable
          label="Fault reports"
          columns={[
            'Time',
            'Service',
            'Instance',
            'Reason',
            { label: 'Environment', className: 'hide-narrow' },
            { label: 'Files', className: 'num hide-narrow' },
            { label: 'Size', className: 'num hide-narrow' },
          ]}
        >
          {list.map((f) => (
            <tr key={f.id}>
              <th scope="row">
                <Link to={`/faults/${encodeURIComponent(f.id)}`}>{formatTime(f.time)}</Link>
              </th>
              <td>
                {f.service} <span className="mono">{f.version ?? ''}</span>
              </td>
              <td>{f.instanceId}</td>
              <td className="bad">{describe(f)}</td>
              <td className="hide-narrow">{f.environment}</td>
              <td className="num hide-narrow">{f.files.length}</td>
              <td className="num hide-narrow">{formatBytes(f.size)}</td>
            </tr>
          ))}
        </DataTable>
      ) : null}
      <NewestOlderPager
        what="reports"
        onNewest={cursor ? () => go({ cursor: null }) : undefined}
        onOlder={next ? () => go({ cursor: next }) : undefined}
      />
    </>
  );
}

function FilterForm({ filters, onSearch }: { filters: FaultFilters; onSearch: (f: FaultFilters) => void }) {
  const { draft, set, submit } = useFilterDraft(fields, filters, onSearch);
  return (
    <form className="filters" onSubmit={submit} aria-label="Filter fault reports">
      <ServiceInstanceFields draft={draft} set={set} />
      <TimeRangeFields draft={draft} set={set} />
      <button type="submit">Filter</button>
    </form>
  );
}
