/** `exit 3`, `exit (SIGSEGV)`, `memory`… */
export function describe(f: { reason: string; exitCode: number | null; signal: string | null }): string {
  const detail = [f.exitCode !== null ? `code ${f.exitCode}` : '', f.signal ?? ''].filter(Boolean).join(', ');
  return detail ? `${f.reason} (${detail})` : f.reason;
}
