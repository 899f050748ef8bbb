import type { FaultSummary } from '@flotilla/protocol';
import { useState } from 'react';
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
import { type FaultGroup, groupFaults } from './fault-groups.ts';
import { describe } from './fault-reason.ts';

// A page holds a whole crash loop more often than not; its reports are grouped on the page.
const pageSize = 100;
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
  const [openGroups, setOpenGroups] = useState<ReadonlySet<string>>(new Set());
  const toggle = (key: string) =>
    setOpenGroups((current) => {
      const changed = new Set(current);
      changed.has(key) ? changed.delete(key) : changed.add(key);
      return changed;
    });

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
          {groupFaults(list).map((g) => (
            <GroupRows key={g.key} group={g} open={openGroups.has(g.key)} onToggle={() => toggle(g.key)} />
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

/** A single report as one row; a crash loop as one summary row, its reports listed under it when opened. */
function GroupRows({ group, open, onToggle }: { group: FaultGroup; open: boolean; onToggle: () => void }) {
  const [newest, ...rest] = group.faults;
  if (!newest) return null;
  if (rest.length === 0) return <FaultRow f={newest} />;
  const oldest = rest[rest.length - 1] ?? newest;
  const membersId = `fault-group-${newest.id}`;
  return (
    <>
      <tr className="fault-group" data-testid="fault-group">
        <th scope="row">
          <Link to={`/faults/${encodeURIComponent(newest.id)}`}>{formatTime(newest.time)}</Link>
        </th>
        <td>
          {newest.service} <span className="mono">{newest.version ?? ''}</span>
        </td>
        <td>{newest.instanceId}</td>
        <td>
          <span className="bad">{describe(newest)}</span>{' '}
          <strong>
            {group.faults.length} times from {formatTime(oldest.time)} to {formatTime(newest.time)}
          </strong>{' '}
          <button
            type="button"
            aria-expanded={open}
            aria-controls={open ? group.faults.map((_, i) => `${membersId}-${i}`).join(' ') : undefined}
            onClick={onToggle}
          >
            {open ? 'Hide' : 'Show'} all {group.faults.length}
          </button>
        </td>
        <td className="hide-narrow">{newest.environment}</td>
        <td className="num hide-narrow">{group.faults.reduce((n, f) => n + f.files.length, 0)}</td>
        <td className="num hide-narrow">{formatBytes(group.faults.reduce((n, f) => n + f.size, 0))}</td>
      </tr>
      {open ? group.faults.map((f, i) => <FaultRow key={f.id} f={f} id={`${membersId}-${i}`} />) : null}
    </>
  );
}

function FaultRow({ f, id }: { f: FaultSummary; id?: string }) {
  return (
    <tr className={id ? 'fault-member' : undefined} id={id}>
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
  );
}
