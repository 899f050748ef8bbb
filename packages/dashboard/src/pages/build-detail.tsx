import { useEffect, useState } from 'react';
import { Link, useParams } from 'react-router';
import { ApiError, api, buildLogFollowUrl } from '../api/client.ts';
import { EmptyState, ErrorNote, formatBytes, formatTime, Loading } from '../components/ui.tsx';
import { useApi } from '../components/use-api.ts';
import { BuildStateText } from './builds.tsx';

// The page keeps the log's end; a longer log is read whole with `flotilla builds log`.
const maxShownChars = 512 * 1024;

/** One build: what was asked, how it ended, and its log as it grows. */
export function BuildPage() {
  const id = useParams().id ?? '';
  const build = useApi(() => api.build(id), [id]);
  const { log, ended } = useBuildLog(id);
  const [cancelError, setCancelError] = useState<unknown>();
  const b = build.data;
  const reload = build.reload;
  useEffect(() => {
    if (ended) reload();
  }, [ended, reload]);
  const cancel = () => {
    setCancelError(undefined);
    api.cancelBuild(id).then(reload, setCancelError);
  };
  return (
    <>
      <p>
        <Link to="/builds">← Builds</Link>
      </p>
      <h2>{b ? `Build ${b.id} of ${b.service}` : `Build ${id}`}</h2>
      {build.error instanceof ApiError && build.error.status === 404 ? (
        <EmptyState title="No such build">
          <p>
            Pick one from the <Link to="/builds">list</Link>.
          </p>
        </EmptyState>
      ) : (
        <ErrorNote error={build.error} title="The build could not be loaded" />
      )}
      <ErrorNote error={cancelError} title="The build could not be cancelled" />
      {build.loading && !b ? <Loading what="the build" /> : null}
      {b ? (
        <>
          {b.state === 'queued' || b.state === 'running' ? (
            <p>
              <button type="button" onClick={cancel}>
                Cancel the build
              </button>
            </p>
          ) : null}
          <dl className="facts">
            <dt>State</dt>
            <dd>
              <BuildStateText job={b} />
            </dd>
            <dt>Version</dt>
            <dd className="mono">{b.resultVersion ?? b.version ?? 'the next patch version'}</dd>
            <dt>Sources</dt>
            <dd className="mono">
              {b.sources
                .map((s) => `${s.name}=${s.url}${s.ref ? `#${s.ref}` : ''}${s.subdir ? `:${s.subdir}` : ''}`)
                .join(' ')}
            </dd>
            {b.privateFiles.length > 0 ? (
              <>
                <dt>Private files</dt>
                <dd className="mono">{b.privateFiles.join(' ')}</dd>
              </>
            ) : null}
            {b.setDesired ? (
              <>
                <dt>Made desired in</dt>
                <dd>{b.setDesired}</dd>
              </>
            ) : null}
            <dt>Requested by</dt>
            <dd>
              {b.requestedBy}, {formatTime(b.createdAt, { zone: true })}
            </dd>
            <dt>Ran</dt>
            <dd>
              {b.startedAt ? formatTime(b.startedAt, { zone: true }) : 'not yet'}
              {b.finishedAt ? ` to ${formatTime(b.finishedAt, { zone: true })}` : ''}
            </dd>
          </dl>
        </>
      ) : null}
      <section aria-labelledby="log-title">
        <h3 id="log-title">Log{b ? ` (${formatBytes(b.logBytes)})` : ''}</h3>
        {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be reachable by keyboard */}
        <pre className="log-tail" data-testid="build-log" tabIndex={0}>
          {log || (ended ? 'The log is empty.' : 'Waiting for the build to write…')}
        </pre>
      </section>
    </>
  );
}

/** The log as server-sent events from its start; `ended` once the server says the build ended. */
function useBuildLog(id: string): { log: string; ended: boolean } {
  const [log, setLog] = useState('');
  const [ended, setEnded] = useState(false);
  useEffect(() => {
    setLog('');
    setEnded(false);
    const source = new EventSource(buildLogFollowUrl(id));
    source.addEventListener('log', (e) => {
      const text = JSON.parse((e as MessageEvent<string>).data) as string;
      setLog((current) => (current + text).slice(-maxShownChars));
    });
    source.addEventListener('end', () => {
      setEnded(true);
      source.close();
    });
    return () => source.close();
  }, [id]);
  return { log, ended };
}
