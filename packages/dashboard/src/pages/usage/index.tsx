import type { AppSummary } from '@flotilla/protocol';
import { lazy, Suspense, useMemo } from 'react';
import { useSearchParams } from 'react-router';
import { api, getEarly } from '../../api/client.ts';
import { Command, EmptyState, ErrorNote, formatNumber, Loading } from '../../components/ui.tsx';
import { useApi } from '../../components/use-api.ts';
import { adoptionPercent, newestVersion, ranges, stackedRows, type UsageRow, usageRows } from './usage-math.ts';

// The charts and the map load after the tables, in chunks of their own: the numbers come first.
const StackedChart = lazy(async () => ({ default: (await import('./stacked-chart.tsx')).StackedChart }));
const WorldMap = lazy(async () => ({ default: (await import('./world-map.tsx')).WorldMap }));

// Asked for when this module loads (main.tsx loads it at once on the landing page), alongside the
// session rather than after it; the page's first load takes the answer.
getEarly('/api/v1/apps');

const periods = ['', '1h', '6h', '1d', '7d'];
// One instance for every row: building it is far dearer than asking it.
let regionNames: Intl.DisplayNames | undefined;
const countryName = (code: string) => {
  if (!code) return 'unknown';
  try {
    regionNames ??= new Intl.DisplayNames(['en'], { type: 'region' });
    return regionNames.of(code) ?? code;
  } catch {
    return code;
  }
};

export function UsagePage() {
  const [params, setParams] = useSearchParams();
  const apps = useApi(() => api.apps(), []);
  const list = apps.data?.apps ?? [];
  const appName = params.get('app') ?? list.find((a) => a.default)?.name ?? list[0]?.name ?? '';
  const app = list.find((a) => a.name === appName);
  const range = params.get('range') ?? '7d';
  const period = params.get('period') ?? '';
  const tag = params.get('tag') ?? app?.tagKeys[0] ?? '';

  function set(key: string, value: string) {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    if (key === 'app') next.delete('tag');
    setParams(next);
  }

  return (
    <>
      <h2>Usage</h2>
      <ErrorNote error={apps.error} title="Apps could not be loaded" />
      {apps.loading && !apps.data ? <Loading what="apps" /> : null}
      {apps.data && list.length === 0 ? (
        <EmptyState title="No apps are configured">
          <p>Start the server with an app name and its versions, then point your app's upgrade checks at it:</p>
          <Command>flotilla server --application-name my-app --upgrade-response-config versions.json</Command>
        </EmptyState>
      ) : null}
      {app ? (
        <>
          <form className="filters" aria-label="Usage filters" onSubmit={(e) => e.preventDefault()}>
            <label>
              App
              <select value={appName} onChange={(e) => set('app', e.target.value)}>
                {list.map((a) => (
                  <option key={a.name}>{a.name}</option>
                ))}
              </select>
            </label>
            <label>
              Range
              <select value={range} onChange={(e) => set('range', e.target.value)}>
                {Object.keys(ranges).map((r) => (
                  <option key={r} value={r}>
                    last {r}
                  </option>
                ))}
              </select>
            </label>
            <label>
              Period
              <select value={period} onChange={(e) => set('period', e.target.value)}>
                {periods.map((p) => (
                  <option key={p} value={p}>
                    {p || `${app.queryPeriod} (the app's)`}
                  </option>
                ))}
              </select>
            </label>
            {app.tagKeys.length > 0 ? (
              <label>
                Tag
                <select value={tag} onChange={(e) => set('tag', e.target.value)}>
                  {app.tagKeys.map((k) => (
                    <option key={k}>{k}</option>
                  ))}
                </select>
              </label>
            ) : null}
          </form>
          <AppUsage app={app} range={range} period={period} tag={tag} />
        </>
      ) : null}
    </>
  );
}

function AppUsage({ app, range, period, tag }: { app: AppSummary; range: string; period: string; tag: string }) {
  // The page's own clock, rounded to the minute, so the same URL asks the same question for a while.
  const from = useMemo(() => {
    const now = Math.floor(Date.now() / 60_000) * 60_000;
    return new Date(now - (ranges[range] ?? ranges['7d'] ?? 0)).toISOString();
  }, [range]);
  // Only the buckets with check-ins (the chart fills the gaps), and no points at all for countries.
  const q = { from, period: period || undefined };
  const versions = useApi(() => api.usage(app.name, { ...q, groupBy: 'appVersion' }), [app.name, from, period]);
  const countries = useApi(
    () => api.usage(app.name, { ...q, groupBy: 'country', points: 'none' }),
    [app.name, from, period],
  );
  const tags = useApi(
    () => (tag ? api.usage(app.name, { ...q, groupBy: `tag:${tag}` }) : Promise.resolve(null)),
    [app.name, from, period, tag],
  );

  const versionRows = versions.data ? usageRows(versions.data) : [];
  const newest = newestVersion(
    app.versions,
    versionRows.map((r) => r.key),
  );
  const adoption = adoptionPercent(versionRows, newest);
  const total = versionRows.reduce((s, r) => s + r.instances, 0);
  const unique = versionRows.reduce((s, r) => s + r.uniqueInstances, 0);
  const keys = versionRows.map((r) => r.key);

  if (versions.error) return <ErrorNote error={versions.error} title="Usage could not be loaded" />;
  if (!versions.data) return <Loading what="usage" />;
  if (versionRows.length === 0) {
    return (
      <EmptyState title={`No check-ins from ${app.name} in the last ${range}`}>
        <p>Apps check in by POSTing their version to the server; try it with</p>
        <Command>{`curl -X POST ${location.origin}/v1/checkupgrade -d '{"appVersion":"${app.versions[0] ?? 'v1.0.0'}"}'`}</Command>
        <p>
          or use the SDK: <code>checkForUpgrade(&#123; url, appVersion &#125;)</code> from @flotilla/sdk.
        </p>
      </EmptyState>
    );
  }
  return (
    <>
      <dl className="stats" aria-label="Summary">
        <div>
          <dt>Instances now</dt>
          <dd data-testid="total-instances">{formatNumber(Math.round(total * 100) / 100)}</dd>
        </div>
        <div>
          <dt>On the newest version{newest ? ` (${newest})` : ''}</dt>
          <dd data-testid="adoption">{adoption === null ? '—' : `${adoption}%`}</dd>
        </div>
        {unique > 0 ? (
          <div>
            <dt>Unique instances now</dt>
            <dd data-testid="unique-instances">{formatNumber(unique)}</dd>
          </div>
        ) : null}
        <div>
          <dt>Bucket</dt>
          <dd>{versions.data.period}</dd>
        </div>
      </dl>
      <section aria-labelledby="by-version">
        <h3 id="by-version">Instances by app version</h3>
        <Suspense fallback={<Loading what="chart" />}>
          <StackedChart
            rows={stackedRows(versions.data, keys)}
            keys={keys}
            label={`Estimated instances per ${versions.data.period}, stacked by app version`}
          />
        </Suspense>
        <UsageTable rows={versionRows} name="Version" label="Instances by app version" showUnique={unique > 0} />
      </section>
      <section aria-labelledby="by-country">
        <h3 id="by-country">Instances by country</h3>
        <ErrorNote error={countries.error} title="Countries could not be loaded" />
        {countries.data ? (
          <CountryView rows={usageRows(countries.data)} />
        ) : countries.error ? null : (
          <Loading what="countries" />
        )}
      </section>
      {tag ? (
        <section aria-labelledby="by-tag">
          <h3 id="by-tag">Instances by {tag}</h3>
          <ErrorNote error={tags.error} title="Tags could not be loaded" />
          {tags.data ? (
            <>
              <Suspense fallback={<Loading what="chart" />}>
                <StackedChart
                  rows={stackedRows(
                    tags.data,
                    usageRows(tags.data).map((r) => r.key),
                  )}
                  keys={usageRows(tags.data).map((r) => r.key)}
                  label={`Estimated instances stacked by ${tag}`}
                />
              </Suspense>
              <UsageTable rows={usageRows(tags.data)} name={tag} label={`Instances by ${tag}`} showUnique={false} />
            </>
          ) : null}
        </section>
      ) : null}
    </>
  );
}

function CountryView({ rows }: { rows: UsageRow[] }) {
  const counts = useMemo(() => new Map(rows.map((r) => [r.key, r.instances])), [rows]);
  if (rows.length === 0) return <p className="muted">No country was located for these check-ins.</p>;
  return (
    <div className="split">
      <Suspense fallback={<Loading what="map" />}>
        <WorldMap counts={counts} label="Estimated instances now, by country" />
      </Suspense>
      <UsageTable
        rows={rows.map((r) => ({ ...r, key: r.key ? `${countryName(r.key)} (${r.key})` : 'unknown' }))}
        name="Country"
        label="Instances by country"
        showUnique={false}
      />
    </div>
  );
}

function UsageTable({
  rows,
  name,
  label,
  showUnique,
}: {
  rows: UsageRow[];
  name: string;
  label: string;
  showUnique: boolean;
}) {
  return (
    <div className="table-wrap">
      <table aria-label={label}>
        <thead>
          <tr>
            <th scope="col">{name}</th>
            <th scope="col" className="num">
              Instances now
            </th>
            {showUnique ? (
              <th scope="col" className="num">
                Unique now
              </th>
            ) : null}
            <th scope="col" className="num">
              Check-ins in range
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.key}>
              <th scope="row">{r.key || '(none)'}</th>
              <td className="num">{formatNumber(r.instances)}</td>
              {showUnique ? <td className="num">{formatNumber(r.uniqueInstances)}</td> : null}
              <td className="num">{formatNumber(r.checkins)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
