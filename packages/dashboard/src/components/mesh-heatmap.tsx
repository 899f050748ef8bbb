import { type KeyboardEvent, useRef, useState } from 'react';
import { cellText, legendSteps, type Matrix, type MeshColour, pairKey, pairText, stepOf } from '../pages/mesh-api.ts';

export interface PairChoice {
  from: string;
  to: string;
}

/**
 * The pair matrix as an ARIA grid: rows measure, columns are measured. One cell is in the tab order;
 * the arrow keys, Home and End move within the grid, Enter or Space opens the pair's history.
 */
export function MeshHeatmap({
  matrix,
  colour,
  label,
  selected,
  onSelect,
}: {
  matrix: Matrix;
  colour: MeshColour;
  label: string;
  selected: PairChoice | null;
  onSelect: (pair: PairChoice) => void;
}) {
  const grid = useRef<HTMLDivElement>(null);
  const n = matrix.nodes.length;
  // The cell in the tab order: the selected pair's, else the first pair's.
  const [at, setAt] = useState<[number, number]>(() => {
    const [r, c] = [matrix.nodes.indexOf(selected?.from ?? ''), matrix.nodes.indexOf(selected?.to ?? '')];
    return r >= 0 && c >= 0 ? [r, c] : [0, Math.min(1, n - 1)];
  });
  const [row, col] = [Math.min(at[0], n - 1), Math.min(at[1], n - 1)];

  const moveTo = (r: number, c: number) => {
    const next: [number, number] = [Math.max(0, Math.min(n - 1, r)), Math.max(0, Math.min(n - 1, c))];
    setAt(next);
    grid.current?.querySelector<HTMLElement>(`[data-cell="${next[0]}:${next[1]}"]`)?.focus();
  };
  const open = (r: number, c: number) => {
    const [from, to] = [matrix.nodes[r], matrix.nodes[c]];
    if (from !== undefined && to !== undefined && from !== to) onSelect({ from, to });
  };
  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    const keys: Record<string, () => void> = {
      ArrowRight: () => moveTo(row, col + 1),
      ArrowLeft: () => moveTo(row, col - 1),
      ArrowDown: () => moveTo(row + 1, col),
      ArrowUp: () => moveTo(row - 1, col),
      Home: () => (e.ctrlKey ? moveTo(0, 0) : moveTo(row, 0)),
      End: () => (e.ctrlKey ? moveTo(n - 1, n - 1) : moveTo(row, n - 1)),
      PageDown: () => moveTo(row + 10, col),
      PageUp: () => moveTo(row - 10, col),
      Enter: () => open(row, col),
      ' ': () => open(row, col),
    };
    const act = keys[e.key];
    if (!act) return;
    e.preventDefault();
    act();
  };

  const groupClass = (i: number) => (i > 0 && matrix.groupStarts.has(i) ? ' mesh-group-start' : '');
  return (
    <div className="mesh-heatmap-wrap">
      {/* biome-ignore lint/a11y/useSemanticElements: a heatmap is an interactive grid, not a data table */}
      <div
        className="mesh-heatmap"
        role="grid"
        aria-label={label}
        aria-rowcount={n + 1}
        aria-colcount={n + 1}
        ref={grid}
      >
        {/* biome-ignore lint/a11y/useSemanticElements: rows of the grid above */}
        {/* biome-ignore lint/a11y/useFocusableInteractive: a header row, not focusable itself */}
        <div role="row" className="mesh-row mesh-head">
          {/* biome-ignore lint/a11y/useSemanticElements: a header of the grid above */}
          {/* biome-ignore lint/a11y/useFocusableInteractive: a header, not focusable itself */}
          <div role="columnheader" className="mesh-corner">
            <span className="muted">from ↓ to →</span>
          </div>
          {matrix.nodes.map((to, c) => (
            // biome-ignore lint/a11y/useSemanticElements: a header of the grid above
            // biome-ignore lint/a11y/useFocusableInteractive: a header, not focusable itself
            <div role="columnheader" key={to} className={`mesh-colhead${groupClass(c)}`} title={to}>
              <span>{to}</span>
            </div>
          ))}
        </div>
        {matrix.nodes.map((from, r) => (
          // biome-ignore lint/a11y/useSemanticElements: rows of the grid above
          // biome-ignore lint/a11y/useFocusableInteractive: a row, its cells take focus
          <div role="row" key={from} className={`mesh-row${groupClass(r)}`}>
            {/* biome-ignore lint/a11y/useSemanticElements: a header of the grid above */}
            {/* biome-ignore lint/a11y/useFocusableInteractive: a header, not focusable itself */}
            <div role="rowheader" className="mesh-rowhead" title={from}>
              {from}
              {matrix.groupStarts.has(r) ? (
                <span className="mesh-group-tag">partition {matrix.groupStarts.get(r)}</span>
              ) : null}
            </div>
            {matrix.nodes.map((to, c) => {
              const self = from === to;
              const pair = self ? undefined : matrix.pairs.get(pairKey(from, to));
              const words = self ? `${from} to itself: not measured` : pairText(from, to, pair, colour);
              const isSelected = selected?.from === from && selected.to === to;
              const level = pair ? stepOf(pair, colour) : null;
              return (
                // biome-ignore lint/a11y/useSemanticElements: a cell of the grid above
                <div
                  role="gridcell"
                  key={to}
                  data-cell={`${r}:${c}`}
                  data-from={from}
                  data-to={to}
                  data-level={level ?? ''}
                  tabIndex={r === row && c === col ? 0 : -1}
                  aria-label={words}
                  aria-selected={isSelected}
                  title={words}
                  className={`mesh-cell${self ? ' mesh-self' : level === null ? ' mesh-none' : ` mesh-${colour}-${level}`}${groupClass(c)}`}
                  onClick={() => {
                    setAt([r, c]);
                    open(r, c);
                  }}
                  onKeyDown={onKeyDown}
                  onFocus={() => setAt([r, c])}
                >
                  {self ? '' : pair ? cellText(pair, colour) : '·'}
                </div>
              );
            })}
          </div>
        ))}
      </div>
    </div>
  );
}

/** What each colour means, in words beside its swatch. */
export function MeshLegend({ colour }: { colour: MeshColour }) {
  return (
    <ul className="mesh-legend" aria-label={colour === 'p50' ? 'Colours: p50 round trip' : 'Colours: loss'}>
      {legendSteps(colour).map((s) => (
        <li key={s.level}>
          <span className={`mesh-swatch mesh-${colour}-${s.level}`} aria-hidden="true" />
          {s.label}
        </li>
      ))}
      <li>
        <span className="mesh-swatch mesh-none" aria-hidden="true" />
        no measurements
      </li>
    </ul>
  );
}
