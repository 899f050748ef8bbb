/** How one service of a viewed revision compares with the newest revision. */
export type RowState = 'same' | 'changed' | 'removed' | 'added';

export interface DiffRow {
  service: string;
  /** The version in the viewed revision; null when it lacks the service. */
  version: string | null;
  /** The version in the newest revision; null when it lacks the service. */
  newest: string | null;
  state: RowState;
}

/**
 * The viewed revision against the newest: changed in bold, removed (in the newest, not here) in red,
 * added (here, not in the newest) in green.
 */
export function diffAgainstNewest(viewed: Record<string, string>, newest: Record<string, string>): DiffRow[] {
  const services = [...new Set([...Object.keys(viewed), ...Object.keys(newest)])].sort();
  return services.map((service) => {
    const version = viewed[service] ?? null;
    const current = newest[service] ?? null;
    const state: RowState =
      version === null ? 'removed' : current === null ? 'added' : version === current ? 'same' : 'changed';
    return { service, version, newest: current, state };
  });
}

/** The PATCH body that turns `from` into `to`. */
export function editOf(from: Record<string, string>, to: Record<string, string>) {
  const set: Record<string, string> = {};
  for (const [service, version] of Object.entries(to)) if (from[service] !== version) set[service] = version;
  const remove = Object.keys(from).filter((service) => !(service in to));
  return { set, remove };
}
