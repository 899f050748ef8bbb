import type { TrashItem } from '@flotilla/protocol';
import { api } from '../api/client.ts';
import { DataTable } from '../components/data-table.tsx';
import { EmptyState, ErrorNote, formatTime, Loading } from '../components/ui.tsx';
import { useAction } from '../components/use-action.ts';
import { useApi } from '../components/use-api.ts';
import { useCan } from '../session.tsx';

const what = (item: TrashItem) => (item.kind === 'version' ? `${item.name} ${item.version}` : item.name);

/** Deleted services, profiles, environments and versions, each restorable until the sweep purges it. */
export function TrashTab() {
  const trash = useApi(() => api.trash(), []);
  const isDeveloper = useCan('developer');
  const isAdmin = useCan('admin');
  const action = useAction();
  const list = trash.data?.items ?? [];
  // Restoring takes the role that deleting takes: admin for environments, developer for the rest.
  const mayRestore = (item: TrashItem) => (item.kind === 'environment' ? isAdmin : isDeveloper);
  const restore = (item: TrashItem) => action.run(() => api.restoreTrash(item.id)).then((ok) => ok && trash.reload());

  return (
    <section aria-labelledby="trash-title">
      <h3 id="trash-title">Deleted, and restorable for now</h3>
      <p className="muted">
        What was deleted stays restorable until its date below, then it is purged for good; the audit log keeps the
        rest.
      </p>
      <ErrorNote error={action.error} title="It could not be restored" />
      <ErrorNote error={trash.error} title="Deleted items could not be loaded" />
      {trash.loading && !trash.data ? <Loading what="deleted items" /> : null}
      {trash.data && list.length === 0 ? (
        <EmptyState title="Nothing deleted lately">
          <p>A deleted service, profile, environment or version shows here while it can be restored.</p>
        </EmptyState>
      ) : null}
      {list.length > 0 ? (
        <DataTable label="Deleted items" columns={['What', 'Kind', 'Deleted', 'Restorable until', 'Restore']}>
          {list.map((item) => (
            <tr key={item.id}>
              <th scope="row">{what(item)}</th>
              <td>{item.kind}</td>
              <td>
                {formatTime(item.deletedAt)} by {item.deletedBy}
              </td>
              <td>{formatTime(item.purgeAfter)}</td>
              <td>
                {mayRestore(item) ? (
                  <button type="button" onClick={() => restore(item)} aria-label={`Restore ${item.kind} ${what(item)}`}>
                    Restore
                  </button>
                ) : null}
              </td>
            </tr>
          ))}
        </DataTable>
      ) : null}
    </section>
  );
}
