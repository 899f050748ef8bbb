/** Prints rows as an aligned table for people, or the raw value as JSON for scripts. */
export function printResult(
  value: unknown,
  opts: { json?: boolean; columns?: string[]; rows?: Array<Record<string, unknown>> },
): void {
  if (opts.json || !opts.rows) {
    process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    return;
  }
  process.stdout.write(formatTable(opts.rows, opts.columns ?? Object.keys(opts.rows[0] ?? {})));
}

export function formatTable(rows: Array<Record<string, unknown>>, columns: string[]): string {
  if (rows.length === 0) return '(none)\n';
  const cell = (v: unknown) =>
    v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]) =>
    `${values
      .map((v, i) => v.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd()}\n`;
  return line(columns.map((c) => c.toUpperCase())) + rows.map((r) => line(columns.map((c) => cell(r[c])))).join('');
}
