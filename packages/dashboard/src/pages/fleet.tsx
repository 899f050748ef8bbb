import type { FleetService } from '@flotilla/protocol';
import { useEffect, useState } from 'react';
import { Link } from 'react-router';
import { api, getEarly, withQuery } from '../api/client.ts';
import { DataTable } from '../components/data-table.tsx';
import { Command, EmptyState, ErrorNote, formatTime, Loading } from '../components/ui.tsx';
import { useApi } from '../components/use-api.ts';
import { useSearchPatch } from '../components/use-search-patch.ts';
import { useVisibleInterval } from '../components/use-visible-interval.ts';
import { isCalm, ReasonCell, VerdictCell, verdictLabel, verdicts } from './fleet-verdict.tsx';

const pageSize = 200;

export const agentCommand = (env: string) =>
  `flotilla token create --agent --env ${env || '<environment>'} --name host-1   # once per host\n` +
  `flotilla agent --server ${location.origin} --token <the agent token>`;

/** What the page asks the fleet API for, from its URL. */
function fleetQuery(params: URLSearchParams) {
  return {
    environment: params.get('env') || undefined,
    service: params.get('service') || undefined,
    alerts: params.get('alerts') === '1' ? ('true' as const) : undefined,
    limit: Number(params.get('limit')) || pageSize,
  };
}

// Opened at /fleet, the page's data is asked for as soon as its code arrives, not after it renders.
if (location.pathname === '/fleet') {
  getEarly('/api/v1/environments');
  getEarly(withQuery('/api/v1/fleet', fleetQuery(new URLSearchParams(location.search))));
}

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
  const fleet = useApi(() => api.fleet(fleetQuery(params)), [env, service, alerts, limit]);
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
              <div key={v} className={v === 'ok' ? undefined : isCalm(v) ? 'waiting' : 'alert'}>
                <dt>{verdictLabel(v)}</dt>
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
  const counts = verdicts.filter((v) => s.counts[v]).map((v) => `${s.counts[v]} ${verdictLabel(v)}`);
  return (
    <section className="card" aria-label={title}>
      <h3>
        {title}: desired <span className="mono">{s.desiredVersion}</span>
      </h3>
      <p className="muted">{counts.length ? counts.join(', ') : 'no instances'}</p>
      {s.instances.length === 0 ? (
        <p className="muted">
          {alerts ? 'No alerts: every instance runs what it is served, or waits for its wave.' : 'No instances.'}
        </p>
      ) : (
        <DataTable
          label={`Instances of ${title}`}
          columns={[
            'Instance',
            'Verdict',
            'Runs',
            { label: 'Served', className: 'hide-narrow' },
            { label: 'State', className: 'hide-narrow' },
            'Reason',
            { label: 'Last seen', className: 'hide-narrow' },
          ]}
        >
          {s.instances.map((i) => (
            <tr key={i.instanceId} data-verdict={i.verdict} className={isCalm(i.verdict) ? undefined : 'alert'}>
              <th scope="row">
                <Link to={`/fleet/instances/${encodeURIComponent(i.instanceId)}`}>{i.instanceId}</Link>
              </th>
              <VerdictCell row={i} />
              <td className="mono">{i.version ?? '—'}</td>
              <td className="mono hide-narrow">{i.desiredVersion ?? '—'}</td>
              <td className="hide-narrow">{i.state ?? '—'}</td>
              <ReasonCell row={i} />
              <td className="hide-narrow">{formatTime(i.lastSeenAt)}</td>
            </tr>
          ))}
        </DataTable>
      )}
    </section>
  );
}
