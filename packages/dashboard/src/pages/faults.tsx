import { type FormEvent, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { api } from '../api/client.ts';
import { isoToLocal, localToIso } from '../components/local-time.ts';
import { EmptyState, ErrorNote, formatBytes, formatTime, Loading } from '../components/ui.tsx';
import { useApi } from '../components/use-api.ts';

const pageSize = 50;
const fields = ['service', 'instance', 'from', 'to'] as const;
type Filters = Partial<Record<(typeof fields)[number], string>>;

export function FaultsPage() {
  const [params, setParams] = useSearchParams();
  const filters: Filters = {};
  for (const f of fields) {
    const v = params.get(f);
    if (v) filters[f] = v;
  }
  const cursor = params.get('cursor');
  const key = JSON.stringify(filters);
  const faults = useApi(() => api.faults({ ...filters, limit: pageSize, cursor }), [key, cursor]);
  const list = faults.data?.faults ?? [];
  const filtered = Object.keys(filters).length > 0;

  function go(next: Record<string, string | null>) {
    const p = new URLSearchParams(params);
    for (const [k, v] of Object.entries(next)) v === null || v === '' ? p.delete(k) : p.set(k, v);
    setParams(p);
  }

  return (
    <>
      <h2>Faults</h2>
      <FilterForm key={key} filters={filters} onSearch={(f) => setParams(f as Record<string, string>)} />
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
        <div className="table-wrap">
          <table aria-label="Fault reports">
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Service</th>
                <th scope="col">Instance</th>
                <th scope="col">Reason</th>
                <th scope="col" className="hide-narrow">
                  Environment
                </th>
                <th scope="col" className="num hide-narrow">
                  Files
                </th>
                <th scope="col" className="num hide-narrow">
                  Size
                </th>
              </tr>
            </thead>
            <tbody>
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
            </tbody>
          </table>
        </div>
      ) : null}
      <div className="pager">
        {cursor ? (
          <button type="button" onClick={() => go({ cursor: null })}>
            Newest reports
          </button>
        ) : null}
        {faults.data?.nextCursor ? (
          <button type="button" onClick={() => go({ cursor: faults.data?.nextCursor ?? null })}>
            Older reports
          </button>
        ) : null}
      </div>
    </>
  );
}

/** `exit 3`, `exit (SIGSEGV)`, `memory`… */
export function describe(f: { reason: string; exitCode: number | null; signal: string | null }): string {
  const detail = [f.exitCode !== null ? `code ${f.exitCode}` : '', f.signal ?? ''].filter(Boolean).join(', ');
  return detail ? `${f.reason} (${detail})` : f.reason;
}

function FilterForm({ filters, onSearch }: { filters: Filters; onSearch: (f: Filters) => void }) {
  const [draft, setDraft] = useState<Filters>({
    ...filters,
    from: isoToLocal(filters.from),
    to: isoToLocal(filters.to),
  });
  const set = (patch: Filters) => setDraft({ ...draft, ...patch });
  function submit(e: FormEvent) {
    e.preventDefault();
    const out: Filters = {};
    for (const f of fields) {
      const v = (draft[f] ?? '').trim();
      if (v) out[f] = f === 'from' || f === 'to' ? localToIso(v) : v;
    }
    onSearch(out);
  }
  return (
    <form className="filters" onSubmit={submit} aria-label="Filter fault reports">
      <label>
        Service
        <input value={draft.service ?? ''} onChange={(e) => set({ service: e.target.value })} placeholder="any" />
      </label>
      <label>
        Instance
        <input value={draft.instance ?? ''} onChange={(e) => set({ instance: e.target.value })} placeholder="any" />
      </label>
      <label>
        From
        <input type="datetime-local" value={draft.from ?? ''} onChange={(e) => set({ from: e.target.value })} />
      </label>
      <label>
        To
        <input type="datetime-local" value={draft.to ?? ''} onChange={(e) => set({ to: e.target.value })} />
      </label>
      <button type="submit">Filter</button>
    </form>
  );
}
