import type { CreatedToken } from '@flotilla/protocol';
import { type FormEvent, useState } from 'react';
import { api } from '../api/client.ts';
import { DataTable } from '../components/data-table.tsx';
import { EmptyState, ErrorNote, formatTime, Loading } from '../components/ui.tsx';
import { useAction } from '../components/use-action.ts';
import { useApi } from '../components/use-api.ts';
import { useCan } from '../session.tsx';

const pageSize = 50;

export function TokensTab() {
  const tokens = useApi(() => api.tokens(), []);
  const canAgent = useCan('developer');
  const [page, setPage] = useState(0);
  const action = useAction();
  const [created, setCreated] = useState<CreatedToken | null>(null);
  const [form, setForm] = useState({ kind: 'personal' as 'personal' | 'agent', name: '', environment: '', days: '' });
  const list = tokens.data?.tokens ?? [];
  const shown = list.slice(page * pageSize, (page + 1) * pageSize);

  function create(e: FormEvent) {
    e.preventDefault();
    action.run(async () => {
      setCreated(
        await api.createToken({
          kind: form.kind,
          name: form.name,
          ...(form.kind === 'agent' ? { environment: form.environment } : {}),
          ...(form.days ? { expiresInDays: Number(form.days) } : {}),
        }),
      );
      setForm({ ...form, name: '' });
      tokens.reload();
    });
  }
  function revoke(id: string) {
    action.run(async () => {
      await api.revokeToken(id);
      tokens.reload();
    });
  }

  return (
    <section aria-labelledby="tokens-title">
      <h3 id="tokens-title">API tokens</h3>
      <form className="inline-form" onSubmit={create} aria-label="Create a token">
        <label>
          Kind
          <select
            value={form.kind}
            onChange={(e) => setForm({ ...form, kind: e.target.value as 'personal' | 'agent' })}
          >
            <option value="personal">personal (acts as you)</option>
            {canAgent ? <option value="agent">agent (one environment)</option> : null}
          </select>
        </label>
        <label>
          Name
          <input value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} required />
        </label>
        {form.kind === 'agent' ? (
          <label>
            Environment
            <input
              value={form.environment}
              onChange={(e) => setForm({ ...form, environment: e.target.value })}
              required
            />
          </label>
        ) : null}
        <label>
          Expires in days (empty: never)
          <input
            type="number"
            min={1}
            max={3650}
            value={form.days}
            onChange={(e) => setForm({ ...form, days: e.target.value })}
          />
        </label>
        <button type="submit">Create token</button>
      </form>
      {created ? (
        <div className="secret" role="status">
          <p>
            <strong>Token "{created.info.name}" created.</strong> Copy it now: it is shown only this once.
          </p>
          <p className="mono" data-testid="new-token">
            {created.token}
          </p>
          <button type="button" onClick={() => setCreated(null)}>
            I have copied it
          </button>
        </div>
      ) : null}
      <ErrorNote error={action.error} />
      <ErrorNote error={tokens.error} title="Tokens could not be loaded" />
      {tokens.loading && !tokens.data ? <Loading what="tokens" /> : null}
      {tokens.data && list.length === 0 ? (
        <EmptyState title="No tokens">
          <p>Create a personal token above for scripts and the CLI, or an agent token for each host's agent.</p>
        </EmptyState>
      ) : null}
      {shown.length > 0 ? (
        <DataTable
          label="Tokens"
          columns={['Name', 'Kind', 'Role', 'User / environment', 'Last used', 'Expires', 'State']}
        >
          {shown.map((t) => (
            <tr key={t.id}>
              <th scope="row">{t.name}</th>
              <td>{t.kind}</td>
              <td>{t.role}</td>
              <td>{t.user ?? t.environment ?? '—'}</td>
              <td>{formatTime(t.lastUsedAt)}</td>
              <td>{t.expiresAt ? formatTime(t.expiresAt) : 'never'}</td>
              <td>
                {t.revokedAt ? (
                  `revoked ${formatTime(t.revokedAt)}`
                ) : (
                  <button type="button" className="danger" onClick={() => revoke(t.id)} aria-label={`Revoke ${t.name}`}>
                    Revoke
                  </button>
                )}
              </td>
            </tr>
          ))}
        </DataTable>
      ) : null}
      {list.length > pageSize ? (
        <div className="pager">
          <button type="button" disabled={page === 0} onClick={() => setPage(page - 1)}>
            Previous
          </button>
          <span>
            {page * pageSize + 1}–{Math.min(list.length, (page + 1) * pageSize)} of {list.length}
          </span>
          <button type="button" disabled={(page + 1) * pageSize >= list.length} onClick={() => setPage(page + 1)}>
            Next
          </button>
        </div>
      ) : null}
    </section>
  );
}
