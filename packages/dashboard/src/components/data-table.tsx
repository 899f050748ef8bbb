import { type ReactNode, useLayoutEffect, useRef } from 'react';

/** A column heading; the object form adds a class such as `num` or `hide-narrow`. */
export type Column = string | { label: string; className: string };

const labelOf = (c: Column) => (typeof c === 'string' ? c : c.label);

/**
 * A labelled table; `children` are its body rows. On a phone each row becomes a card whose cells
 * show their column's name (styles.css, `.stack`), so no column is cut off or needs sideways scrolling.
 */
export function DataTable({ label, columns, children }: { label: string; columns: Column[]; children: ReactNode }) {
  const table = useRef<HTMLTableElement>(null);
  // Rows come from the caller, so their cells learn their column's name here, after each render.
  useLayoutEffect(() => {
    for (const row of table.current?.tBodies[0]?.rows ?? []) {
      let column = 0;
      for (const cell of row.cells) {
        const name = columns[column] === undefined ? '' : labelOf(columns[column] as Column);
        if (cell.getAttribute('data-label') !== name) cell.setAttribute('data-label', name);
        column += cell.colSpan;
      }
    }
  });
  return (
    <div className="table-wrap stack">
      <table aria-label={label} ref={table}>
        <thead>
          <tr>
            {columns.map((c) =>
              typeof c === 'string' ? (
                <th key={c} scope="col">
                  {c}
                </th>
              ) : (
                <th key={c.label} scope="col" className={c.className}>
                  {c.label}
                </th>
              ),
            )}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}
