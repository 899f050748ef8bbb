import { type FormEvent, useState } from 'react';
import { api } from '../api/client.ts';
import { DataTable } from '../components/data-table.tsx';
import { ErrorNote, formatTime, Loading } from '../components/ui.tsx';
import { useApi } from '../components/use-api.ts';

const pageSize = 50;

export function AuditTab() {
  const [filter, setFilter] = useState({ actor: '', action: '' });
  const [applied, setApplied] = useState(filter);
  // Cursors of the pages before this one, so "Newer" can step back.
  const [cursors, setCursors] = useState<string[]>([]);
  const before = cursors.at(-1);
  const audit = useApi(
    () => api.audit({ limit: pageSize, before, actor: applied.actor, action: applied.action }),
    [before, applied],
  );

  function search(e: FormEvent) {
    e.preventDefault();
    setCursors([]);
    setApplied(filter);
  }

  return (
    <section aria-labelledby="audit-title">
      <h3 id="audit-title">Audit log</h3>
      <form className="inline-form" onSubmit={search} aria-label="Filter the audit log">
        <label>
          Actor
          <input value={filter.actor} onChange={(e) => setFilter({ ...filter, actor: e.target.value })} />
        </label>
        <label>
          Action
          <input
            value={filter.action}
            placeholder="e.g. desired.edit"
            onChange={(e) => setFilter({ ...filter, action: e.target.value })}
          />
        </label>
        <button type="submit">Filter</button>
      </form>
      <ErrorNote error={audit.error} title="The audit log could not be loaded" />
      {audit.loading && !audit.data ? <Loading what="the audit log" /> : null}
      {audit.data?.entries.length === 0 ? <p className="muted">No entries match.</p> : null}
      {audit.data && audit.data.entries.length > 0 ? (
        <DataTable
          label="Audit log"
          columns={['Time', 'Actor', 'Action', 'Target', { label: 'Change', className: 'hide-narrow' }]}
        >
          {audit.data.entries.map((e) => (
            <tr key={e.id}>
              <td>{formatTime(e.at)}</td>
              <td>{e.actor}</td>
              <td>{e.action}</td>
              <td className="mono">{e.target}</td>
              <td className="mono hide-narrow">
                {e.before ? `${JSON.stringify(e.before)} → ` : ''}
                {e.after ? JSON.stringify(e.after) : ''}
              </td>
            </tr>
          ))}
        </DataTable>
      ) : null}
      <div className="pager">
        <button type="button" disabled={cursors.length === 0} onClick={() => setCursors(cursors.slice(0, -1))}>
          Newer
        </button>
        <button
          type="button"
          disabled={!audit.data?.next}
          onClick={() => audit.data?.next && setCursors([...cursors, audit.data.next])}
        >
          Older
        </button>
      </div>
    </section>
  );
}
