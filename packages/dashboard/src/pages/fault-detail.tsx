import type { FaultSummary } from '@flotilla/protocol';
import { useLayoutEffect, useRef } from 'react';
import { Link, useParams } from 'react-router';
import { ApiError, api, faultArchiveUrl } from '../api/client.ts';
import { EmptyState, ErrorNote, formatBytes, formatTime, Loading } from '../components/ui.tsx';
import { useApi } from '../components/use-api.ts';
import { describe } from './fault-reason.ts';

export function FaultPage() {
  const id = useParams().id ?? '';
  const fault = useApi(() => api.fault(id), [id]);
  const f = fault.data;
  return (
    <>
      <p>
        <Link to="/faults">← Faults</Link>
      </p>
      <h2>{f ? `Fault of ${f.service} on ${f.instanceId}` : 'Fault report'}</h2>
      {fault.error instanceof ApiError && fault.error.status === 404 ? (
        <EmptyState title="No such fault report">
          <p>
            It may have been trimmed by the retention settings. Pick one from the <Link to="/faults">list</Link>.
          </p>
        </EmptyState>
      ) : (
        <ErrorNote error={fault.error} title="The fault report could not be loaded" />
      )}
      {fault.loading && !f ? <Loading what="the fault report" /> : null}
      {f ? (
        <>
          <p>
            <a className="button primary" href={faultArchiveUrl(f.id)} download>
              Download the archive ({formatBytes(f.size)})
            </a>{' '}
            <Link to={faultLogsUrl(f)}>
              Logs of {f.service} on {f.instanceId} around {formatTime(f.time)}
            </Link>{' '}
            · <Link to={`/fleet/instances/${encodeURIComponent(f.instanceId)}`}>Instance {f.instanceId}</Link>
          </p>
          <dl className="facts">
            <dt>Time</dt>
            <dd>{formatTime(f.time, { zone: true })}</dd>
            <dt>Reason</dt>
            <dd className="bad">{describe(f)}</dd>
            <dt>Service</dt>
            <dd>
              {f.service} <span className="mono">{f.version ?? 'version unknown'}</span>
            </dd>
            <dt>Instance</dt>
            <dd>
              {f.instanceId} in {f.environment}
            </dd>
            <dt>Received</dt>
            <dd>{formatTime(f.receivedAt, { zone: true })}</dd>
            <dt>Archive digest</dt>
            <dd className="mono">{f.digest}</dd>
          </dl>
          <section aria-labelledby="state-title">
            <h3 id="state-title">State</h3>
            {Object.keys(f.state).length === 0 ? (
              <p className="muted">The agent sent no state.</p>
            ) : (
              <div className="table-wrap">
                <table aria-label="State at the time of the fault">
                  <tbody>
                    {Object.entries(f.state).map(([k, v]) => (
                      <tr key={k}>
                        <th scope="row">{k}</th>
                        <td className="mono">{typeof v === 'string' ? v : JSON.stringify(v)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </section>
          <section aria-labelledby="tail-title">
            <h3 id="tail-title">Log tail ({f.logTail.length} lines, the last one at the bottom)</h3>
            {f.logTail.length === 0 ? (
              <p className="muted">The report holds no log lines.</p>
            ) : (
              <LogTail lines={f.logTail} />
            )}
          </section>
          <section aria-labelledby="files-title">
            <h3 id="files-title">Files</h3>
            {f.files.length === 0 ? (
              <p className="muted">No files were packed with this report.</p>
            ) : (
              <>
                <ul className="list mono" aria-label="Files in the archive">
                  {f.files.map((name) => (
                    <li key={name}>files/{name}</li>
                  ))}
                </ul>
                <p className="muted">The files are inside the archive; download it to read them.</p>
              </>
            )}
          </section>
        </>
      ) : null}
    </>
  );
}

/** Minutes of log lines shown before and after a fault. */
const beforeMs = 5 * 60_000;
const afterMs = 60_000;

/** The Logs page with this fault's service lines from a few minutes before it to a minute after. */
export function faultLogsUrl(f: Pick<FaultSummary, 'environment' | 'instanceId' | 'service' | 'time'>): string {
  const at = Date.parse(f.time);
  const q = new URLSearchParams({
    environment: f.environment,
    instance: f.instanceId,
    service: f.service,
    from: new Date(at - beforeMs).toISOString(),
    to: new Date(at + afterMs).toISOString(),
    at: f.time,
  });
  return `/logs?${q}`;
}

/** The tail opens scrolled to its end, where the crash lines are. */
function LogTail({ lines }: { lines: string[] }) {
  const ref = useRef<HTMLPreElement>(null);
  // biome-ignore lint/correctness/useExhaustiveDependencies: new lines are what moves the end
  useLayoutEffect(() => {
    if (ref.current) ref.current.scrollTop = ref.current.scrollHeight;
  }, [lines]);
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be reachable by keyboard
    <pre ref={ref} className="log-tail" data-testid="log-tail" tabIndex={0}>
      {lines.join('\n')}
    </pre>
  );
}
