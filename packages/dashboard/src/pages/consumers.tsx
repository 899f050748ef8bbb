import { request } from '../api/client.ts';
import { DataTable } from '../components/data-table.tsx';
import { Command, EmptyState, ErrorNote, formatTime, Loading } from '../components/ui.tsx';
import { useApi } from '../components/use-api.ts';

interface Consumer {
  name: string;
  profile: string;
  testConsumer: string | null;
  lastSeenAt: string | null;
  revokedAt: string | null;
  /** URL prefixes of the settings its client builds here may use; none: it asks for no builds. */
  settingsUrls: string[];
}

interface ConsumerFleet {
  consumer: string;
  receivedAt: string | null;
  instances: Array<{ environment: string; instanceId: string; service: string; version: string | null; state: string }>;
  faults: Array<{
    id: string;
    instanceId: string;
    service: string;
    version: string | null;
    reason: string;
    at: string;
  }>;
}

/** Consumer servers that follow this one, and what each last reported about its instances and faults. */
export function ConsumersPage() {
  const loaded = useApi(async () => {
    const { consumers } = await request<{ consumers: Consumer[] }>('GET', '/api/v1/consumers');
    const fleets = await Promise.all(
      consumers.map((c) => request<ConsumerFleet>('GET', `/api/v1/consumers/${encodeURIComponent(c.name)}/fleet`)),
    );
    return consumers.map((c, i) => ({ consumer: c, fleet: fleets[i] as ConsumerFleet }));
  }, []);
  const list = loaded.data ?? [];

  return (
    <>
      <h2>Consumers</h2>
      <p className="muted">
        Servers that follow this one's versions of a profile with a consumer token, and report back what runs there.
      </p>
      <ErrorNote error={loaded.error} title="Consumers could not be loaded" />
      {loaded.loading && !loaded.data ? <Loading what="consumers" /> : null}
      {loaded.data && list.length === 0 ? (
        <EmptyState title="No consumer servers yet">
          <p>Create an account bound to a profile; its token is shown once:</p>
          <Command>flotilla consumer create acme --profile partner</Command>
        </EmptyState>
      ) : null}
      {list.length > 0 ? (
        <DataTable
          label="Consumers"
          columns={[
            'Consumer',
            'Profile',
            'Builds with settings from',
            'Last seen',
            'Last report',
            'Instances',
            'Faults',
          ]}
        >
          {list.map(({ consumer: c, fleet }) => (
            <tr key={c.name}>
              <th scope="row">
                {c.name}
                {c.revokedAt ? ` (revoked ${formatTime(c.revokedAt)})` : ''}
                {c.testConsumer ? ` (takes what ${c.testConsumer} tested)` : ''}
              </th>
              <td>{c.profile}</td>
              <td className="mono">{c.settingsUrls.length > 0 ? c.settingsUrls.join(' ') : 'no builds'}</td>
              <td>{formatTime(c.lastSeenAt)}</td>
              <td>{formatTime(fleet.receivedAt)}</td>
              <td>{fleet.instances.length}</td>
              <td>{fleet.faults.length}</td>
            </tr>
          ))}
        </DataTable>
      ) : null}
      {list
        .filter(({ fleet }) => fleet.instances.length > 0)
        .map(({ consumer: c, fleet }) => (
          <section key={c.name} aria-labelledby={`consumer-${c.name}`}>
            <h3 id={`consumer-${c.name}`}>{c.name}: instances</h3>
            <DataTable
              label={`Instances of ${c.name}`}
              columns={['Instance', 'Environment', 'Service', 'Version', 'State']}
            >
              {fleet.instances.map((i) => (
                <tr key={`${i.environment}/${i.instanceId}/${i.service}`}>
                  <th scope="row">{i.instanceId}</th>
                  <td>{i.environment}</td>
                  <td>{i.service}</td>
                  <td>{i.version ?? ''}</td>
                  <td>{i.state}</td>
                </tr>
              ))}
            </DataTable>
          </section>
        ))}
    </>
  );
}
