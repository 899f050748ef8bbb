import type { DriftSubjectDetail, DriftVersionResolution } from '@flotilla/protocol';
import { Link, useParams } from 'react-router';
import { ApiError } from '../api/client.ts';
import { DataTable } from '../components/data-table.tsx';
import { EmptyState, ErrorNote, formatTime, Loading } from '../components/ui.tsx';
import { useApi } from '../components/use-api.ts';
import { countsText, driftApi, releaseKind, runningText, shadeOf, upstreamText } from './drift-api.ts';
import { BehindBadge, ProblemText, ReportedText, SupportEnd, UpstreamLink } from './drift-parts.tsx';

type Place = DriftSubjectDetail['places'][number];

export function DriftSubjectPage() {
  const subject = useParams().subject ?? '';
  const detail = useApi(() => driftApi.subject(subject), [subject]);
  const d = detail.data;
  return (
    <>
      <p>
        <Link to="/drift">← Drift</Link>
      </p>
      <h2>Drift of {subject}</h2>
      {detail.error instanceof ApiError && detail.error.status === 404 ? (
        <EmptyState title="No place runs this subject">
          <p>
            No cluster or host reports <code>{subject}</code> now: its tracker may have been removed, or its places
            stopped reporting long enough to be forgotten. Pick one from the <Link to="/drift">list</Link>.
          </p>
        </EmptyState>
      ) : (
        <ErrorNote error={detail.error} title="The subject could not be loaded" />
      )}
      {detail.loading && !d ? <Loading what="the subject" /> : null}
      {d ? <SubjectDetail detail={d} /> : null}
    </>
  );
}

function SubjectDetail({ detail: d }: { detail: DriftSubjectDetail }) {
  const upstreams = [...new Set(d.places.map((p) => upstreamText(p.upstream)).filter(Boolean))];
  const ends = d.places.map((p) => p.supportEndsAt).filter((t): t is string => Boolean(t));
  return (
    <>
      <dl className="facts">
        <dt>Latest upstream</dt>
        <dd className="mono">{d.latest ?? 'unknown'}</dd>
        <dt>Upstream</dt>
        <dd className="mono">{upstreams.length > 0 ? upstreams.join('; ') : 'none named by its trackers'}</dd>
        <dt>Places</dt>
        <dd>{d.places.length}</dd>
        {ends.length > 0 ? (
          <>
            <dt>End of support</dt>
            <dd>{formatTime(ends.sort()[0])} (the earliest of the versions running)</dd>
          </>
        ) : null}
      </dl>
      <section aria-labelledby="drift-places-title">
        <h3 id="drift-places-title">Where it runs</h3>
        <DataTable
          label={`Places running ${d.subject}`}
          columns={[
            'Place',
            'Behind',
            'Running',
            { label: 'Majors', className: 'num hide-narrow' },
            { label: 'Minors', className: 'num hide-narrow' },
            { label: 'Patches', className: 'num hide-narrow' },
            { label: 'Support ends', className: 'hide-narrow' },
            'Reported',
            'Problem',
          ]}
        >
          {d.places.map((p) => (
            <PlaceRow key={`${p.environment}/${p.place}`} p={p} />
          ))}
        </DataTable>
      </section>
      <section aria-labelledby="drift-releases-title">
        <h3 id="drift-releases-title">Newer releases</h3>
        <Releases places={d.places} />
      </section>
    </>
  );
}

function PlaceRow({ p }: { p: Place }) {
  const n = (v: number | null | undefined) => (typeof v === 'number' ? v : '—');
  return (
    <tr className={`drift-row drift-row-${shadeOf(p)}`} data-behind={shadeOf(p)}>
      <th scope="row">
        {p.environment} / {p.place}
        {p.namespace ? <span className="muted"> in {p.namespace}</span> : null}
      </th>
      <td>
        <BehindBadge item={p} />
      </td>
      <td className="mono">{runningText(p.versions)}</td>
      <td className="num hide-narrow">{n(p.majorsBehind)}</td>
      <td className="num hide-narrow">{n(p.minorsBehind)}</td>
      <td className="num hide-narrow">{n(p.patchesBehind)}</td>
      <td className="hide-narrow">
        {p.supportEndsAt ? (
          <>
            {formatTime(p.supportEndsAt)} <SupportEnd at={p.supportEndsAt} />
          </>
        ) : (
          '—'
        )}
      </td>
      <td>
        <ReportedText item={p} />
      </td>
      <td>
        <ProblemText item={p} />
      </td>
    </tr>
  );
}

/** One section per running version (once, however many places run it), with the releases newer than it. */
function Releases({ places }: { places: Place[] }) {
  const byVersion = new Map<string, { resolution: DriftVersionResolution; where: string[] }>();
  for (const p of places) {
    for (const r of p.resolution ?? []) {
      const seen = byVersion.get(r.runningVersion);
      if (seen) seen.where.push(`${p.environment} / ${p.place}`);
      else byVersion.set(r.runningVersion, { resolution: r, where: [`${p.environment} / ${p.place}`] });
    }
  }
  if (byVersion.size === 0) {
    return <p className="muted">Not compared with its upstream yet, or no upstream is named.</p>;
  }
  return (
    <>
      {[...byVersion.values()].map(({ resolution: r, where }) => (
        <section key={r.runningVersion} className="card" aria-label={`Releases newer than ${r.runningVersion}`}>
          <h4>
            Newer than <span className="mono">{r.runningVersion}</span> <BehindBadge item={r} shade={r.behind} />
          </h4>
          <p className="muted">
            Runs on {where.join(', ')}. {countsText(r)}.
            {r.supportEndsAt ? ` Support ends ${formatTime(r.supportEndsAt)}.` : ''}
          </p>
          {r.newer.length === 0 ? (
            <p>No newer release.</p>
          ) : (
            <DataTable label={`Releases newer than ${r.runningVersion}`} columns={['Version', 'Kind', 'Published']}>
              {r.newer.map((release) => (
                <tr key={release.version}>
                  <th scope="row" className="mono">
                    <UpstreamLink url={release.url}>{release.version}</UpstreamLink>
                    {release.prerelease ? <span className="muted"> (prerelease)</span> : null}
                  </th>
                  <td>{releaseKind(r, release.version)}</td>
                  <td>{release.publishedAt ? formatTime(release.publishedAt) : '—'}</td>
                </tr>
              ))}
            </DataTable>
          )}
        </section>
      ))}
    </>
  );
}
