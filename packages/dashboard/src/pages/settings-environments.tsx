import { type FormEvent, useState } from 'react';
import { api } from '../api/client.ts';
import { DataTable } from '../components/data-table.tsx';
import { EmptyState, ErrorNote, formatTime, Loading } from '../components/ui.tsx';
import { useAction } from '../components/use-action.ts';
import { useApi } from '../components/use-api.ts';
import { useCan } from '../session.tsx';

export function EnvironmentsTab() {
  const envs = useApi(() => api.environments(), []);
  const canEdit = useCan('developer');
  const action = useAction();
  const [name, setName] = useState('');
  const [gate, setGate] = useState('');
  const list = envs.data?.environments ?? [];

  const run = (what: () => Promise<unknown>) => action.run(what).then((ok) => ok && envs.reload());
  function create(e: FormEvent) {
    e.preventDefault();
    run(async () => {
      await api.createEnvironment(name, gate || undefined);
      setName('');
      setGate('');
    });
  }

  return (
    <section aria-labelledby="envs-title">
      <h3 id="envs-title">Environments and tested gates</h3>
      <p className="muted">
        An environment with a tested gate only accepts versions that were marked tested in the gate's environment.
      </p>
      {canEdit ? (
        <form className="inline-form" onSubmit={create} aria-label="Create an environment">
          <label>
            Name
            <input value={name} onChange={(e) => setName(e.target.value)} required pattern="[a-z0-9][a-z0-9\-]{0,62}" />
          </label>
          <label>
            Requires tested in
            <select value={gate} onChange={(e) => setGate(e.target.value)}>
              <option value="">(no gate)</option>
              {list.map((env) => (
                <option key={env.name}>{env.name}</option>
              ))}
            </select>
          </label>
          <button type="submit">Create environment</button>
        </form>
      ) : null}
      <ErrorNote error={action.error} />
      <ErrorNote error={envs.error} title="Environments could not be loaded" />
      {envs.loading && !envs.data ? <Loading what="environments" /> : null}
      {envs.data && list.length === 0 ? (
        <EmptyState title="No environments yet">
          <p>Create one above, for example "staging", then "production" requiring versions tested in staging.</p>
        </EmptyState>
      ) : null}
      {list.length > 0 ? (
        <DataTable label="Environments" columns={['Name', 'Requires tested in', 'Revision', 'Created']}>
          {list.map((env) => (
            <tr key={env.name}>
              <th scope="row">{env.name}</th>
              <td>
                {canEdit ? (
                  <select
                    aria-label={`Tested gate of ${env.name}`}
                    value={env.requiresTestedIn ?? ''}
                    onChange={(e) => run(() => api.setTestedGate(env.name, e.target.value || null))}
                  >
                    <option value="">(no gate)</option>
                    {list
                      .filter((o) => o.name !== env.name)
                      .map((o) => (
                        <option key={o.name}>{o.name}</option>
                      ))}
                  </select>
                ) : (
                  (env.requiresTestedIn ?? '—')
                )}
              </td>
              <td>{env.revision}</td>
              <td>{formatTime(env.createdAt)}</td>
            </tr>
          ))}
        </DataTable>
      ) : null}
    </section>
  );
}
