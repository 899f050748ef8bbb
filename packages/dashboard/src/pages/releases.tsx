import type { Service } from '@flotilla/protocol';
import { type FormEvent, useState } from 'react';
import { useSearchParams } from 'react-router';
import { api } from '../api/client.ts';
import { DataTable } from '../components/data-table.tsx';
import { NewestOlderPager } from '../components/pager.tsx';
import { Command, EmptyState, ErrorNote, formatBytes, formatTime, Loading } from '../components/ui.tsx';
import { useAction } from '../components/use-action.ts';
import { useApi } from '../components/use-api.ts';
import { useSearchPatch } from '../components/use-search-patch.ts';
import { useCan } from '../session.tsx';
import { PublishForm } from './publish-form.tsx';

const pageSize = 20;

export function ReleasesPage() {
  const [params, setParams] = useSearchParams();
  const services = useApi(() => api.services(), []);
  const profiles = useApi(() => api.profiles(), []);
  const canEdit = useCan('developer');
  const list = services.data?.services ?? [];
  const selected = params.get('service') ?? list[0]?.name ?? '';

  function select(service: string) {
    setParams({ service });
  }

  return (
    <>
      <h2>Releases</h2>
      <ErrorNote error={services.error} title="Services could not be loaded" />
      {services.loading && !services.data ? <Loading what="services" /> : null}
      {services.data && list.length === 0 ? (
        <EmptyState title="No services yet">
          <p>A service is the thing Flotilla ships. Create one and publish a first version from the command line:</p>
          <Command>
            {'flotilla service create my-service\nflotilla version publish my-service 1.0.0 ./my-service.tar.gz'}
          </Command>
          <p>The archive holds a flotilla.json that says how to install and run it. Or create it here:</p>
        </EmptyState>
      ) : null}
      {canEdit ? (
        <CreateService
          onCreated={(s) => {
            services.reload();
            select(s.name);
          }}
        />
      ) : null}
      {list.length > 0 ? (
        <div className="columns">
          <nav aria-label="Services">
            <h3>Services</h3>
            <ul className="list">
              {list.map((s) => (
                <li key={s.name}>
                  <button type="button" aria-current={s.name === selected} onClick={() => select(s.name)}>
                    {s.name}
                  </button>
                </li>
              ))}
            </ul>
            <h3>Profiles</h3>
            <ErrorNote error={profiles.error} title="Profiles could not be loaded" />
            {profiles.data?.profiles.length === 0 ? (
              <p className="muted">
                No profiles. Group services with <code>flotilla profile set &lt;name&gt; &lt;services…&gt;</code>.
              </p>
            ) : (
              <ul className="list">
                {profiles.data?.profiles.map((p) => (
                  <li key={p.name}>
                    <strong>{p.name}</strong>: {p.services.join(', ') || <span className="muted">no services</span>}
                  </li>
                ))}
              </ul>
            )}
          </nav>
          {selected ? <ServiceVersions key={selected} service={selected} services={list} canEdit={canEdit} /> : null}
        </div>
      ) : null}
    </>
  );
}

function CreateService({ onCreated }: { onCreated: (s: Service) => void }) {
  const [name, setName] = useState('');
  const { error, run } = useAction();
  function submit(e: FormEvent) {
    e.preventDefault();
    run(async () => {
      onCreated(await api.createService(name));
      setName('');
    });
  }
  return (
    <form className="inline-form" onSubmit={submit} aria-label="Create a service">
      <label>
        New service name
        <input value={name} onChange={(e) => setName(e.target.value)} required pattern="[a-z0-9][a-z0-9\-]{0,62}" />
      </label>
      <button type="submit">Create service</button>
      <ErrorNote error={error} title="The service was not created" />
    </form>
  );
}

function ServiceVersions({ service, services, canEdit }: { service: string; services: Service[]; canEdit: boolean }) {
  const [params, go] = useSearchPatch();
  const cursor = params.get('cursor');
  const open = params.get('version');
  const versions = useApi(() => api.versions(service, { limit: pageSize, cursor, kind: 'all' }), [service, cursor]);
  const info = services.find((s) => s.name === service);
  const next = versions.data?.nextCursor;

  return (
    <section aria-labelledby="versions-title">
      <h3 id="versions-title">Versions of {service}</h3>
      {info?.description ? <p className="muted">{info.description}</p> : null}
      {canEdit ? (
        <PublishForm
          service={service}
          onPublished={(v) => {
            versions.reload();
            go({ version: v.version, cursor: null });
          }}
        />
      ) : null}
      <ErrorNote error={versions.error} title="Versions could not be loaded" />
      {versions.data?.versions.length === 0 && !cursor ? (
        <EmptyState title={`${service} has no versions`}>
          <p>Publish one above, or with</p>
          <Command>{`flotilla version publish ${service} 1.0.0 ./${service}.tar.gz`}</Command>
        </EmptyState>
      ) : null}
      {versions.data && versions.data.versions.length > 0 ? (
        <DataTable
          label={`Versions of ${service}`}
          columns={[
            'Version',
            'Kind',
            'Digest',
            { label: 'Size', className: 'num' },
            'Author',
            'Time',
            { label: 'Notes', className: 'hide-narrow' },
          ]}
        >
          {versions.data.versions.map((v) => (
            <tr key={v.version} className={v.version === open ? 'selected' : undefined}>
              <th scope="row">
                <button type="button" onClick={() => go({ version: v.version === open ? null : v.version })}>
                  {v.version}
                </button>
              </th>
              <td>{v.kind === 'client' ? `client of ${v.client?.developerVersion ?? '?'}` : 'developer'}</td>
              <td className="mono" title={v.digest}>
                {v.digest.slice(0, 19)}…
              </td>
              <td className="num">{formatBytes(v.size)}</td>
              <td>{v.author}</td>
              <td>{formatTime(v.createdAt)}</td>
              <td className="hide-narrow">{v.notes ?? ''}</td>
            </tr>
          ))}
        </DataTable>
      ) : null}
      <NewestOlderPager
        what="versions"
        onNewest={cursor ? () => go({ cursor: null }) : undefined}
        onOlder={next ? () => go({ cursor: next }) : undefined}
      />
      {open ? <VersionDetailView service={service} version={open} /> : null}
    </section>
  );
}

function VersionDetailView({ service, version }: { service: string; version: string }) {
  const detail = useApi(() => api.version(service, version), [service, version]);
  return (
    <section className="card" aria-labelledby="detail-title">
      <h3 id="detail-title">
        {service} {version}
      </h3>
      <ErrorNote error={detail.error} title="The version could not be loaded" />
      {detail.data ? (
        <>
          <dl>
            <dt>Kind</dt>
            <dd>{detail.data.kind === 'client' ? 'client version' : 'developer version'}</dd>
            {detail.data.client ? (
              <>
                <dt>Developer version</dt>
                <dd>{detail.data.client.developerVersion}</dd>
                <dt>Generation</dt>
                <dd>{detail.data.client.generation}</dd>
                <dt>Settings</dt>
                <dd>
                  {detail.data.client.settings.length === 0 ? (
                    <span className="muted">none (macros only)</span>
                  ) : (
                    <ul data-testid="client-settings">
                      {detail.data.client.settings.map((s) => (
                        <li key={s.name}>
                          {s.name}: {s.url} <span className="mono">{s.commit}</span>
                        </li>
                      ))}
                    </ul>
                  )}
                </dd>
              </>
            ) : null}
            <dt>Digest</dt>
            <dd className="mono">{detail.data.digest}</dd>
            <dt>Size</dt>
            <dd>
              {formatBytes(detail.data.size)} ({detail.data.size} bytes)
            </dd>
            <dt>Published</dt>
            <dd>
              {formatTime(detail.data.createdAt)} by {detail.data.author}
            </dd>
            <dt>Notes</dt>
            <dd>{detail.data.notes ?? <span className="muted">none</span>}</dd>
            <dt>Signing key</dt>
            <dd className="mono">{detail.data.keyId}</dd>
          </dl>
          <h4 id="manifest-title">Install manifest (flotilla.json)</h4>
          <pre className="json" data-testid="install-manifest">
            {JSON.stringify(detail.data.manifest, null, 2)}
          </pre>
        </>
      ) : null}
    </section>
  );
}
