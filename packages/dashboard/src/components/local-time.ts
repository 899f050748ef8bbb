/** An `<input type="datetime-local">` value (the browser's local time) as an ISO time; '' stays ''. */
export function localToIso(local: string): string {
  const d = new Date(local);
  return local && !Number.isNaN(d.getTime()) ? d.toISOString() : '';
}

/** An ISO time as an `<input type="datetime-local">` value in the browser's local time. */
export function isoToLocal(iso: string | undefined): string {
  const d = new Date(iso ?? '');
  if (!iso || Number.isNaN(d.getTime())) return '';
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}
