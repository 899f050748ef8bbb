import type { DesiredRevision } from '@flotilla/protocol';
import { type FormEvent, useState } from 'react';
import { api } from '../api/client.ts';
import { DataTable } from '../components/data-table.tsx';
import { ErrorNote } from '../components/ui.tsx';
import { useAction } from '../components/use-action.ts';
import { useApi } from '../components/use-api.ts';
import { editOf } from './desired-diff.ts';

/** Edits the current list in place; saving writes one new revision, refused if someone saved first. */
export function DesiredEditor({
  env,
  current,
  onSaved,
  onCancel,
}: {
  env: string;
  current: DesiredRevision;
  onSaved: (r: DesiredRevision) => void;
  onCancel: () => void;
}) {
  const [draft, setDraft] = useState<Record<string, string>>({ ...current.versions });
  const [comment, setComment] = useState('');
  const [adding, setAdding] = useState('');
  const { error, busy, run } = useAction();
  const services = useApi(() => api.services(), []);
  const names = Object.keys(draft).sort();
  const addable = (services.data?.services ?? []).map((s) => s.name).filter((n) => !(n in draft));
  const { set, remove } = editOf(current.versions, draft);
  const changes = Object.keys(set).length + remove.length;

  function save(e: FormEvent) {
    e.preventDefault();
    run(async () =>
      onSaved(
        await api.editDesired(env, {
          set,
          remove,
          ...(comment ? { comment } : {}),
          expectedRevision: current.revision,
        }),
      ),
    );
  }

  return (
    <form onSubmit={save} aria-label={`Edit desired versions of ${env}`}>
      <DataTable label="Desired versions being edited" columns={['Service', 'Version', 'Remove']}>
        {names.map((service) => (
          <tr
            key={service}
            className={
              !(service in current.versions)
                ? 'added'
                : draft[service] !== current.versions[service]
                  ? 'changed'
                  : undefined
            }
          >
            <th scope="row">{service}</th>
            <td>
              <VersionPicker
                service={service}
                value={draft[service] ?? ''}
                onChange={(v) => setDraft({ ...draft, [service]: v })}
              />
            </td>
            <td>
              <button
                type="button"
                className="danger"
                aria-label={`Remove ${service}`}
                onClick={() => {
                  const { [service]: _gone, ...rest } = draft;
                  setDraft(rest);
                }}
              >
                Remove
              </button>
            </td>
          </tr>
        ))}
        {remove.map((service) => (
          <tr key={`removed-${service}`} className="removed">
            <th scope="row">{service}</th>
            <td>{current.versions[service]}</td>
            <td>
              <button
                type="button"
                onClick={() => setDraft({ ...draft, [service]: current.versions[service] ?? '' })}
                aria-label={`Keep ${service}`}
              >
                Keep
              </button>
            </td>
          </tr>
        ))}
      </DataTable>
      <div className="inline-form">
        <label>
          Add a service
          <select value={adding} onChange={(e) => setAdding(e.target.value)}>
            <option value="">(choose)</option>
            {addable.map((n) => (
              <option key={n}>{n}</option>
            ))}
          </select>
        </label>
        <button
          type="button"
          disabled={!adding}
          onClick={() => {
            setDraft({ ...draft, [adding]: '' });
            setAdding('');
          }}
        >
          Add
        </button>
      </div>
      <div className="inline-form">
        <label>
          Comment
          <input value={comment} onChange={(e) => setComment(e.target.value)} placeholder="Why this change" />
        </label>
        <button type="submit" disabled={busy || changes === 0 || Object.values(draft).some((v) => !v)}>
          Save as revision {current.revision + 1}
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
      <ErrorNote error={error} title="Not saved" />
    </form>
  );
}

/** The versions the catalog holds for a service (newest 100), plus the one already chosen. */
function VersionPicker({
  service,
  value,
  onChange,
}: {
  service: string;
  value: string;
  onChange: (v: string) => void;
}) {
  const versions = useApi(() => api.versions(service, { limit: 100, kind: 'all' }), [service]);
  const names = versions.data?.versions.map((v) => v.version) ?? [];
  if (value && !names.includes(value)) names.unshift(value);
  return (
    <>
      <select aria-label={`Version of ${service}`} value={value} onChange={(e) => onChange(e.target.value)}>
        {value ? null : <option value="">(choose a version)</option>}
        {names.map((n) => (
          <option key={n}>{n}</option>
        ))}
      </select>
      {versions.error ? <ErrorNote error={versions.error} /> : null}
    </>
  );
}
