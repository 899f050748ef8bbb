import type { FleetInstanceRow, FleetVerdict } from '@flotilla/protocol';
import { Link } from 'react-router';
import { formatTime } from '../components/ui.tsx';

/** Verdicts in the order the fleet view decides them; the calm ones last. */
export const verdicts = [
  'stale',
  'not-reported',
  'crash-looping',
  'failed',
  'updating',
  'stopped',
  'behind',
  'not-desired-yet',
  'ok',
] as const satisfies readonly FleetVerdict[];

/** Not alerts: "Only alerts" leaves them out, and they are never shown in red. */
export const isCalm = (v: string) => v === 'ok' || v === 'not-desired-yet';

/** The API's names stay stable; the page says what a waiting instance does. */
export const verdictLabel = (v: string) => (v === 'not-desired-yet' ? 'waiting for its wave' : v);

/** `good` for ok, `waiting` for an instance its rollout has not reached, `bad` for alerts. */
export const verdictClass = (v: string) => (v === 'ok' ? 'good' : v === 'not-desired-yet' ? 'waiting' : 'bad');

export function VerdictCell({ row }: { row: Pick<FleetInstanceRow, 'verdict'> }) {
  return <td className={verdictClass(row.verdict)}>{verdictLabel(row.verdict)}</td>;
}

/** The reason, with the newest recent fault one click away as its evidence. */
export function ReasonCell({
  row,
}: {
  row: Pick<FleetInstanceRow, 'verdict' | 'reason' | 'recentFaults' | 'lastFault'>;
}) {
  const f = row.lastFault;
  return (
    <td className="reason">
      {row.reason ? <span className={isCalm(row.verdict) ? undefined : 'bad'}>{row.reason}</span> : null}
      {f ? (
        <span className="evidence">
          {row.reason ? ' ' : ''}
          <Link to={`/faults/${encodeURIComponent(f.id)}`}>newest fault, {formatTime(f.time)}</Link>
          {row.recentFaults > 1 && row.verdict !== 'crash-looping' ? ` (${row.recentFaults} in 10 min)` : ''}
        </span>
      ) : null}
    </td>
  );
}
