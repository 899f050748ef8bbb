import type { MeshPairPoint, MeshPhase } from '@flotilla/protocol';
import { useId, useState } from 'react';
import { formatLoss, formatRtt, historyWindow, meshApi } from '../pages/mesh-api.ts';
import { DataTable } from './data-table.tsx';
import { ErrorNote, formatTime, Loading } from './ui.tsx';
import { useApi } from './use-api.ts';

const [width, height] = [960, 200];
const left = 56;
const right = 12;
const rtt = { top: 10, bottom: 126 };
const loss = { top: 140, bottom: 176 };
const minuteMs = 60_000;
/** Minutes the table of minutes lists at most, newest first. */
const tableRows = 60;

/** A pair's per-minute p50, p99 and loss in the page's phase, as a chart and, on request, a table. */
export function MeshPairHistory({
  environment,
  from,
  to,
  phase,
  window,
  onClose,
}: {
  environment: string;
  from: string;
  to: string;
  phase: MeshPhase;
  window: string;
  onClose: () => void;
}) {
  const span = historyWindow(window);
  const series = useApi(() => meshApi.pair({ environment, from, to, window: span }), [environment, from, to, span]);
  const [showTable, setShowTable] = useState(false);
  const points = (series.data?.points ?? []).filter((p) => p.phase === phase);
  const title = `${from} → ${to}`;
  return (
    <section className="card mesh-history" aria-label={`History of ${title}`}>
      <div className="mesh-history-head">
        <h3>
          History of {title}{' '}
          <span className="muted">
            ({phase}, last {span})
          </span>
        </h3>
        <button type="button" onClick={onClose}>
          Close history
        </button>
      </div>
      <ErrorNote error={series.error} title="The pair's history could not be loaded" />
      {series.loading && !series.data ? <Loading what="the pair's history" /> : null}
      {series.data && points.length === 0 ? (
        <p className="muted">
          No {phase} summaries of this pair in the last {span}.
        </p>
      ) : null}
      {points.length > 0 ? (
        <>
          <PairFacts points={points} />
          <PairChart points={points} title={title} />
          <button type="button" onClick={() => setShowTable((v) => !v)} aria-expanded={showTable}>
            {showTable ? 'Hide the minutes' : 'Show the minutes'}
          </button>
          {showTable ? <MinuteTable points={points} title={title} /> : null}
        </>
      ) : null}
    </section>
  );
}

const lossOf = (p: Pick<MeshPairPoint, 'count' | 'failed'>) => (p.count > 0 ? p.failed / p.count : 0);

function PairFacts({ points }: { points: MeshPairPoint[] }) {
  const last = points[points.length - 1] as MeshPairPoint;
  const count = points.reduce((n, p) => n + p.count, 0);
  const failed = points.reduce((n, p) => n + p.failed, 0);
  const p99s = points.map((p) => p.p99).filter((v): v is number => v !== null);
  return (
    <dl className="facts mesh-facts">
      <dt>Last minute</dt>
      <dd>
        {formatTime(last.minute)}: p50 {formatRtt(last.p50)}, p99 {formatRtt(last.p99)}, loss {formatLoss(lossOf(last))}
      </dd>
      <dt>Highest p99</dt>
      <dd>{p99s.length > 0 ? formatRtt(Math.max(...p99s)) : '—'}</dd>
      <dt>Loss</dt>
      <dd>
        {formatLoss(count > 0 ? failed / count : 0)} ({failed} of {count} probes in {points.length} minute
        {points.length === 1 ? '' : 's'})
      </dd>
    </dl>
  );
}

/** Lines of p50 (solid) and p99 (dashed) above bars of loss; a missing minute breaks the lines. */
function PairChart({ points, title }: { points: MeshPairPoint[]; title: string }) {
  const id = useId();
  const times = points.map((p) => Date.parse(p.minute));
  const [t0, t1] = [
    times[0] as number,
    Math.max((times[times.length - 1] as number) + minuteMs, (times[0] as number) + minuteMs),
  ];
  const x = (t: number) => left + ((t - t0) / (t1 - t0)) * (width - left - right);
  const barWidth = Math.max(1, x(t0 + minuteMs) - x(t0) - 1);
  const top = Math.max(...points.map((p) => p.p99 ?? p.p50 ?? 0), 0.0001) * 1.1;
  const y = (s: number) => rtt.bottom - (s / top) * (rtt.bottom - rtt.top);
  const line = (pick: (p: MeshPairPoint) => number | null) => {
    let d = '';
    let prev: number | null = null;
    points.forEach((p, i) => {
      const v = pick(p);
      const t = times[i] as number;
      if (v === null) {
        prev = null;
        return;
      }
      const cx = x(t) + barWidth / 2;
      d += `${prev === null || t - prev > minuteMs ? 'M' : 'L'}${cx.toFixed(1)},${y(v).toFixed(1)}`;
      prev = t;
    });
    return d;
  };
  const worstLoss = Math.max(...points.map(lossOf));
  const p50s = points.map((p) => p.p50).filter((v): v is number => v !== null);
  const summary =
    `${points.length} minutes from ${formatTime(points[0]?.minute)} to ${formatTime(points[points.length - 1]?.minute)}. ` +
    (p50s.length > 0
      ? `p50 from ${formatRtt(Math.min(...p50s))} to ${formatRtt(Math.max(...p50s))}. `
      : 'No successful probe. ') +
    `Worst minute's loss ${formatLoss(worstLoss)}.`;
  const hhmm = (t: number) => formatTime(t).slice(11, 16);
  return (
    <figure className="chart mesh-chart">
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-labelledby={`${id}-t ${id}-d`}>
        <title id={`${id}-t`}>{`p50, p99 and loss of ${title} per minute`}</title>
        <desc id={`${id}-d`}>{summary}</desc>
        <line className="mesh-axis" x1={left} x2={width - right} y1={rtt.bottom} y2={rtt.bottom} />
        <line className="mesh-axis" x1={left} x2={width - right} y1={loss.bottom} y2={loss.bottom} />
        {[top, top / 2].map((v) => (
          <g key={v}>
            <line className="mesh-grid" x1={left} x2={width - right} y1={y(v)} y2={y(v)} />
            <text x={left - 4} y={y(v) + 4} textAnchor="end">
              {formatRtt(v)}
            </text>
          </g>
        ))}
        <text x={left - 4} y={rtt.bottom + 4} textAnchor="end">
          0
        </text>
        <text x={left - 4} y={loss.top + 8} textAnchor="end">
          loss
        </text>
        {points.map((p, i) =>
          p.failed > 0 ? (
            <rect
              key={p.minute}
              className="mesh-loss-bar"
              x={x(times[i] as number)}
              width={barWidth}
              y={loss.bottom - lossOf(p) * (loss.bottom - loss.top)}
              height={lossOf(p) * (loss.bottom - loss.top)}
            >
              <title>{`${formatTime(p.minute)}: loss ${formatLoss(lossOf(p))}`}</title>
            </rect>
          ) : null,
        )}
        <path className="mesh-p99" d={line((p) => p.p99)} />
        <path className="mesh-p50" d={line((p) => p.p50)} />
        <text x={left} y={height - 6}>
          {hhmm(t0)}
        </text>
        <text x={width - right} y={height - 6} textAnchor="end">
          {hhmm(t1 - minuteMs)}
        </text>
      </svg>
      <figcaption className="mesh-chart-key">
        <span className="mesh-key-p50">p50</span> <span className="mesh-key-p99">p99</span>{' '}
        <span className="mesh-key-loss">loss (share of failed probes, bottom band)</span>
      </figcaption>
    </figure>
  );
}

function MinuteTable({ points, title }: { points: MeshPairPoint[]; title: string }) {
  const rows = points.slice(-tableRows).reverse();
  return (
    <>
      {points.length > tableRows ? <p className="muted">The last {tableRows} minutes, newest first.</p> : null}
      <DataTable
        label={`Minutes of ${title}`}
        columns={[
          'Minute',
          { label: 'p50', className: 'num' },
          { label: 'p99', className: 'num' },
          { label: 'Loss', className: 'num' },
          { label: 'Probes', className: 'num' },
        ]}
      >
        {rows.map((p) => (
          <tr key={p.minute}>
            <th scope="row">{formatTime(p.minute)}</th>
            <td className="num">{formatRtt(p.p50)}</td>
            <td className="num">{formatRtt(p.p99)}</td>
            <td className="num">{formatLoss(lossOf(p))}</td>
            <td className="num">{p.count}</td>
          </tr>
        ))}
      </DataTable>
    </>
  );
}
