export interface PrintOptions {
  json?: boolean;
  columns?: string[];
  rows?: Array<Record<string, unknown>>;
  /** What a table without rows prints instead, e.g. "no versions of web yet". */
  empty?: string;
}

/** Prints rows as an aligned table for people, or the raw value as JSON for scripts. */
export function printResult(value: unknown, opts: PrintOptions): void {
  if (opts.json || !opts.rows) {
    process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    return;
  }
  process.stdout.write(formatTable(opts.rows, opts.columns ?? Object.keys(opts.rows[0] ?? {}), opts.empty));
}

/** A column key as people read it: `maxHistory` → `MAX HISTORY`, `createdAt` → `CREATED`. */
export function columnHeader(key: string): string {
  const words = key.replace(/([a-z0-9])([A-Z])/g, '$1 $2').split(' ');
  if (words.length > 1 && words.at(-1) === 'At') words.pop();
  return words.join(' ').toUpperCase();
}

export function formatTable(rows: Array<Record<string, unknown>>, columns: string[], empty = '(none)'): string {
  if (rows.length === 0) return `${empty}\n`;
  const cell = (v: unknown) =>
    v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  const headers = columns.map(columnHeader);
  const widths = columns.map((c, i) => Math.max(headers[i]?.length ?? 0, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]) =>
    `${values
      .map((v, i) => v.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd()}\n`;
  return line(headers) + rows.map((r) => line(columns.map((c) => cell(r[c])))).join('');
}

const pad = (n: number) => String(n).padStart(2, '0');

/** An RFC 3339 time as people read it, in local time: `2026-03-10 14:05:09`; empty for none. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}

/** The first line of a text, cut to `max` characters with an ellipsis. */
export function shorten(text: string | null | undefined, max = 48): string {
  const first = (text ?? '').split('\n')[0]?.trim() ?? '';
  return first.length > max ? `${first.slice(0, max - 1)}…` : first;
}
