import type { DriftItem } from '@flotilla/protocol';
import { Link } from 'react-router';
import { api } from '../api/client.ts';
import { DataTable } from '../components/data-table.tsx';
import { type Filters, useFilterDraft, useUrlFilters } from '../components/filter-form.tsx';
import { Command, EmptyState, ErrorNote, Loading } from '../components/ui.tsx';
import { useApi } from '../components/use-api.ts';
import { useSearchPatch } from '../components/use-search-patch.ts';
import { behindChoices, driftApi, groupByPlace, runningText, shadeOf } from './drift-api.ts';
import { BehindBadge, DriftTabs, ProblemText, ReportedText, SupportEnd } from './drift-parts.tsx';

const pageSize = 100;
const fields = ['environment', 'place', 'subject', 'tag', 'behind', 'stale'] as const;
type DriftFilters = Filters<(typeof fields)[number]>;

const setupCommands =
  '# Kubernetes: the CRD, RBAC and drift agent of deploy/kubernetes/ in each cluster, then VersionTrackers\n' +
  'flotilla drift-agent --server <server URL> --token <agent token> --identifier prod-eu\n' +
  '# Hosts: trackers kept per environment, run by flotilla agent\n' +
  'flotilla drift apply -f trackers.yaml --env production';

export function DriftPage() {
  const { filters, key, search } = useUrlFilters(fields);
  const [params, go] = useSearchPatch();
  const after = params.get('after');
  const envs = useApi(() => api.environments(), []);
  const drift = useApi(() => driftApi.list(filters, pageSize, after), [key, after]);
  const items = drift.data?.items ?? [];
  const next = drift.data?.next ?? null;
  const filtered = Object.keys(filters).length > 0;

  return (
    <>
      <h2>Drift</h2>
      <DriftTabs current="subjects" />
      <p className="muted">
        What runs on each cluster and host, and how far behind its upstream's releases it is. A row's colour and words
        say how far: a major, a minor or a patch behind, current, or unknown.
      </p>
      <FilterForm key={key} filters={filters} onSearch={search} environments={envs.data?.environments ?? []} />
      <ErrorNote error={envs.error} title="Environments could not be loaded" />
      <ErrorNote error={drift.error} title="Drift could not be loaded" />
      {drift.loading && !drift.data ? <Loading what="drift" /> : null}
      {drift.data && items.length === 0 && !after ? (
        filtered ? (
          <EmptyState title="No matching subjects">
            <p>Nothing matches these filters. Clear them to see every subject.</p>
          </EmptyState>
        ) : (
          <EmptyState title="No drift reports yet">
            <p>
              Subjects appear here when a drift agent reports what a cluster runs, or when <code>flotilla agent</code>{' '}
              runs the host trackers of its environment. Each needs an agent token of its environment:
            </p>
            <Command>{setupCommands}</Command>
          </EmptyState>
        )
      ) : null}
      {groupByPlace(items).map((g) => (
        <PlaceSubjects
          key={`${g.environment}/${g.place}`}
          environment={g.environment}
          place={g.place}
          items={g.items}
        />
      ))}
      <div className="pager">
        {after ? (
          <button type="button" onClick={() => go({ after: null })}>
            First page
          </button>
        ) : null}
        {next ? (
          <button type="button" onClick={() => go({ after: next })}>
            Next page
          </button>
        ) : null}
      </div>
    </>
  );
}

function FilterForm({
  filters,
  onSearch,
  environments,
}: {
  filters: DriftFilters;
  onSearch: (f: DriftFilters) => void;
  environments: { name: string }[];
}) {
  const { draft, set, submit } = useFilterDraft(fields, filters, onSearch);
  const known = environments.map((e) => e.name);
  // An environment in the URL that is not (yet) listed stays choosable.
  if (draft.environment && !known.includes(draft.environment)) known.push(draft.environment);
  return (
    <form className="filters" onSubmit={submit} aria-label="Filter drift">
      <label>
        Environment
        <select value={draft.environment ?? ''} onChange={(e) => set({ environment: e.target.value })}>
          <option value="">all</option>
          {known.map((name) => (
            <option key={name}>{name}</option>
          ))}
        </select>
      </label>
      <label>
        Place
        <input value={draft.place ?? ''} onChange={(e) => set({ place: e.target.value })} placeholder="any" />
      </label>
      <label>
        Subject
        <input value={draft.subject ?? ''} onChange={(e) => set({ subject: e.target.value })} placeholder="any" />
      </label>
      <label>
        Tags
        <input value={draft.tag ?? ''} onChange={(e) => set({ tag: e.target.value })} placeholder="key:value" />
      </label>
      <label>
        Behind
        <select value={draft.behind ?? ''} onChange={(e) => set({ behind: e.target.value })}>
          {behindChoices.map((c) => (
            <option key={c.value} value={c.value}>
              {c.label}
            </option>
          ))}
        </select>
      </label>
      <label>
        Reporting
        <select value={draft.stale ?? ''} onChange={(e) => set({ stale: e.target.value })}>
          <option value="">any</option>
          <option value="false">reporting</option>
          <option value="true">stale</option>
        </select>
      </label>
      <button type="submit">Filter</button>
    </form>
  );
}

/** One place (cluster or host) and the subjects it reported, each coloured by how far behind. */
function PlaceSubjects({ environment, place, items }: { environment: string; place: string; items: DriftItem[] }) {
  const title = `${environment} / ${place}`;
  const tags = Object.entries(items[0]?.tags ?? {});
  return (
    <section className="card" aria-label={title}>
      <h3>{title}</h3>
      {tags.length > 0 ? (
        <p className="muted">
          Tags:{' '}
          {tags.map(([k, v]) => (
            <span key={k} className="badge mono">
              {k}:{v}
            </span>
          ))}
        </p>
      ) : null}
      <DataTable
        label={`Subjects on ${title}`}
        columns={['Subject', 'Behind', 'Running', 'Latest', 'Reported', 'Problem']}
      >
        {items.map((i) => (
          <tr key={i.subject} className={`drift-row drift-row-${shadeOf(i)}`} data-behind={shadeOf(i)}>
            <th scope="row">
              <Link to={`/drift/subjects/${encodeURIComponent(i.subject)}`}>{i.subject}</Link>
              {i.namespace ? <span className="muted"> in {i.namespace}</span> : null}
            </th>
            <td>
              <BehindBadge item={i} />
              {i.supportEndsAt ? ' ' : null}
              <SupportEnd at={i.supportEndsAt} />
            </td>
            <td className="mono">{runningText(i.versions)}</td>
            <td className="mono">{i.latest ?? '—'}</td>
            <td>
              <ReportedText item={i} />
            </td>
            <td>
              <ProblemText item={i} />
            </td>
          </tr>
        ))}
      </DataTable>
    </section>
  );
}
