import type { FleetService } from '@flotilla/protocol';
import { useEffect, useState } from 'react';
import { Link } from 'react-router';
import { api } from '../api/client.ts';
import { DataTable } from '../components/data-table.tsx';
import { Command, EmptyState, ErrorNote, formatTime, Loading } from '../components/ui.tsx';
import { useApi } from '../components/use-api.ts';
import { useSearchPatch } from '../components/use-search-patch.ts';
import { useVisibleInterval } from '../components/use-visible-interval.ts';

/** Verdicts in the order the fleet view decides them; `ok` last. */
export const verdicts = [
  'stale',
  'not-reported',
  'failed',
  'updating',
  'stopped',
  'not-desired-yet',
  'behind',
  'ok',
] as const;
const pageSize = 200;

export const agentCommand = (env: string) =>
  `flotilla token create --agent --env ${env || '<environment>'} --name host-1   # once per host\n` +
  `flotilla agent --server ${location.origin} --token <the agent token>`;

export function FleetPage() {
  const [params, go] = useSearchPatch();
  const envs = useApi(() => api.environments(), []);
  const env = params.get('env') ?? '';
  const service = params.get('service') ?? '';
  const alerts = params.get('alerts') === '1';
  // Shown at once: the URL (and so `alerts`) changes a moment later, in a transition.
  const [alertsBox, setAlertsBox] = useState(alerts);
  useEffect(() => setAlertsBox(alerts), [alerts]);
  const limit = Number(params.get('limit')) || pageSize;
  const fleet = useApi(
    () =>
      api.fleet({
        environment: env || undefined,
        service: service || undefined,
        alerts: alerts ? 'true' : undefined,
        limit,
      }),
    [env, service, alerts, limit],
  );
  useVisibleInterval(fleet.reload, 15_000);

  const services = fleet.data?.services ?? [];
  const totals: Record<string, number> = {};
  for (const s of services) for (const [v, n] of Object.entries(s.counts)) totals[v] = (totals[v] ?? 0) + n;
  const instanceCount = Object.values(totals).reduce((a, b) => a + b, 0);

  return (
    <>
      <h2>Fleet</h2>
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="Fleet filters">
        <label>
          Environment
          <select value={env} onChange={(e) => go({ env: e.target.value, limit: null })}>
            <option value="">all</option>
            {envs.data?.environments.map((e) => (
              <option key={e.name}>{e.name}</option>
            ))}
          </select>
        </label>
        <label>
          Service
          <input
            defaultValue={service}
            key={service}
            placeholder="any"
            onBlur={(e) => go({ service: e.target.value.trim(), limit: null })}
            onKeyDown={(e) => {
              if (e.key === 'Enter') go({ service: e.currentTarget.value.trim(), limit: null });
            }}
          />
        </label>
        <label className="check">
          <input
            type="checkbox"
            checked={alertsBox}
            onChange={(e) => {
              setAlertsBox(e.target.checked);
              go({ alerts: e.target.checked ? '1' : null });
            }}
          />
          Only alerts
        </label>
      </form>
      <ErrorNote error={envs.error} title="Environments could not be loaded" />
      <ErrorNote error={fleet.error} title="The fleet could not be loaded" />
      {fleet.loading && !fleet.data ? <Loading what="the fleet" /> : null}
      {fleet.data && instanceCount > 0 ? (
        <dl className="stats" aria-label="Instances per verdict">
          {verdicts
            .filter((v) => totals[v])
            .map((v) => (
              <div key={v} className={v === 'ok' ? undefined : 'alert'}>
                <dt>{v}</dt>
                <dd data-testid={`count-${v}`}>{totals[v]}</dd>
              </div>
            ))}
        </dl>
      ) : null}
      {fleet.data && services.length === 0 ? (
        <EmptyState title="Nothing to compare yet">
          <p>
            The fleet view sets each environment's <Link to="/desired">desired versions</Link> against what its
            instances run. {service ? `No environment wants a service named ${service}. ` : ''}Give an environment a
            desired list, then run an agent on each host:
          </p>
          <Command>{agentCommand(env)}</Command>
        </EmptyState>
      ) : null}
      {fleet.data && services.length > 0 && instanceCount === 0 ? (
        <EmptyState title="No instances report yet">
          <p>Run the agent on each host with an agent token of its environment; it reports within a minute:</p>
          <Command>{agentCommand(env)}</Command>
        </EmptyState>
      ) : null}
      {services.map((s) => (
        <ServiceVersions key={`${s.environment}/${s.service}`} fleet={s} alerts={alerts} />
      ))}
      {services.some((s) => s.instances.length >= limit) ? (
        <button
          type="button"
          onClick={() => go({ limit: String(Math.min(limit + pageSize, 1000)) })}
          disabled={limit >= 1000}
        >
          Show more instances
        </button>
      ) : null}
    </>
  );
}

function ServiceVersions({ fleet: s, alerts }: { fleet: FleetService; alerts: boolean }) {
  const title = `${s.environment} / ${s.service}`;
  const counts = verdicts.filter((v) => s.counts[v]).map((v) => `${s.counts[v]} ${v}`);
  return (
    <section className="card" aria-label={title}>
      <h3>
        {title}: desired <span className="mono">{s.desiredVersion}</span>
      </h3>
      <p className="muted">{counts.length ? counts.join(', ') : 'no instances'}</p>
      {s.instances.length === 0 ? (
        <p className="muted">{alerts ? 'No alerts: every instance runs what it should.' : 'No instances.'}</p>
      ) : (
        <DataTable
          label={`Instances of ${title}`}
          columns={[
            'Instance',
            'Verdict',
            'Runs',
            { label: 'Served', className: 'hide-narrow' },
            { label: 'State', className: 'hide-narrow' },
            'First break',
            { label: 'Last seen', className: 'hide-narrow' },
          ]}
        >
          {s.instances.map((i) => (
            <tr key={i.instanceId} data-verdict={i.verdict} className={i.verdict === 'ok' ? undefined : 'alert'}>
              <th scope="row">
                <Link to={`/fleet/instances/${encodeURIComponent(i.instanceId)}`}>{i.instanceId}</Link>
              </th>
              <td className={i.verdict === 'ok' ? 'good' : 'bad'}>{i.verdict}</td>
              <td className="mono">{i.version ?? '—'}</td>
              <td className="mono hide-narrow">{i.desiredVersion ?? '—'}</td>
              <td className="hide-narrow">{i.state ?? '—'}</td>
              <td className={i.reason ? 'bad' : undefined}>{i.reason ?? ''}</td>
              <td className="hide-narrow">{formatTime(i.lastSeenAt)}</td>
            </tr>
          ))}
        </DataTable>
      )}
    </section>
  );
}
