import type { UserRole } from '@flotilla/protocol';
import { type FormEvent, useState } from 'react';
import { api } from '../api/client.ts';
import { DataTable } from '../components/data-table.tsx';
import { ErrorNote, formatTime, Loading } from '../components/ui.tsx';
import { useAction } from '../components/use-action.ts';
import { useApi } from '../components/use-api.ts';

const roles: UserRole[] = ['viewer', 'developer', 'admin'];

export function UsersTab() {
  const users = useApi(() => api.users(), []);
  const action = useAction();
  const [form, setForm] = useState({ name: '', role: 'developer' as UserRole, password: '' });

  const run = (what: () => Promise<unknown>) => action.run(what).then((ok) => ok && users.reload());
  function create(e: FormEvent) {
    e.preventDefault();
    run(async () => {
      await api.createUser(form);
      setForm({ name: '', role: 'developer', password: '' });
    });
  }

  return (
    <section aria-labelledby="users-title">
      <h3 id="users-title">Users</h3>
      <form className="inline-form" onSubmit={create} aria-label="Add a user">
        <label>
          Name
          <input value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} required />
        </label>
        <label>
          Role
          <select value={form.role} onChange={(e) => setForm({ ...form, role: e.target.value as UserRole })}>
            {roles.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        </label>
        <label>
          Password (12+ characters)
          <input
            type="password"
            autoComplete="new-password"
            minLength={12}
            value={form.password}
            onChange={(e) => setForm({ ...form, password: e.target.value })}
            required
          />
        </label>
        <button type="submit">Add user</button>
      </form>
      <ErrorNote error={action.error} />
      <ErrorNote error={users.error} title="Users could not be loaded" />
      {users.loading && !users.data ? <Loading what="users" /> : null}
      <DataTable label="Users" columns={['Name', 'Role', 'Created', 'State']}>
        {users.data?.users.map((u) => (
          <tr key={u.id}>
            <th scope="row">{u.name}</th>
            <td>
              <select
                aria-label={`Role of ${u.name}`}
                value={u.role}
                onChange={(e) => run(() => api.updateUser(u.name, { role: e.target.value as UserRole }))}
              >
                {roles.map((r) => (
                  <option key={r}>{r}</option>
                ))}
              </select>
            </td>
            <td>{formatTime(u.createdAt)}</td>
            <td>
              {u.disabled ? `disabled ${formatTime(u.disabledAt)} ` : 'active '}
              <button type="button" onClick={() => run(() => api.updateUser(u.name, { disabled: !u.disabled }))}>
                {u.disabled ? 'Enable' : 'Disable'}
              </button>
            </td>
          </tr>
        ))}
      </DataTable>
    </section>
  );
}
