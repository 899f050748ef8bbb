import type { ReactNode } from 'react';
import { useSearchParams } from 'react-router';
import { api } from '../api/client.ts';
import { Command, EmptyState, ErrorNote, Loading } from './ui.tsx';
import { useApi } from './use-api.ts';

/** The environments, and the one chosen in the URL's `env` (the first one when none is). */
export function useEnvironmentChoice() {
  const [params, setParams] = useSearchParams();
  const envs = useApi(() => api.environments(), []);
  const list = envs.data?.environments ?? [];
  const env = params.get('env') ?? list[0]?.name ?? '';
  return { envs, list, env, choose: (name: string) => setParams({ env: name }) };
}

/**
 * The "Environment" select of a page about one environment, with its loading and error notes;
 * when there is none yet, `children` say why the page needs one, before how to create it.
 */
export function EnvironmentPicker({
  choice: { envs, list, env, choose },
  formLabel,
  children,
}: {
  choice: ReturnType<typeof useEnvironmentChoice>;
  formLabel: string;
  children: ReactNode;
}) {
  return (
    <>
      <ErrorNote error={envs.error} title="Environments could not be loaded" />
      {envs.loading && !envs.data ? <Loading what="environments" /> : null}
      {envs.data && list.length === 0 ? (
        <EmptyState title="No environments yet">
          <p>{children}</p>
          <Command>flotilla env create staging</Command>
        </EmptyState>
      ) : null}
      {list.length > 0 ? (
        <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label={formLabel}>
          <label>
            Environment
            <select value={env} onChange={(e) => choose(e.target.value)}>
              {list.map((e) => (
                <option key={e.name}>{e.name}</option>
              ))}
            </select>
          </label>
        </form>
      ) : null}
    </>
  );
}
