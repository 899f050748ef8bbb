import type { Database } from '../db/connection.ts';
import type { ClusterBus } from './bus.ts';

/** How often one replica tells the others that it wrote watched tables, at most; the last write is always told. */
const announceEveryMs = 50;

/**
 * `Database.watchWrites` for every replica of a cluster: the listener runs around this process's
 * writes (as `watchWrites` alone does) and when another replica says it wrote one of the tables, or
 * notices may have been missed. Lets a short-lived cache of rows stay correct across replicas.
 */
export function clusterWideWrites(
  watchWrites: NonNullable<Database['watchWrites']>,
  bus: ClusterBus,
): NonNullable<Database['watchWrites']> {
  return (tables, listener) => {
    let timer: NodeJS.Timeout | null = null;
    let again = false;
    // Throttled, with a trailing notice, so a burst of writes (a fleet enrolling) costs a few notices.
    const announce = () => {
      if (timer) {
        again = true;
        return;
      }
      bus.publish({ kind: 'table-writes', tables });
      timer = setTimeout(() => {
        timer = null;
        if (again) {
          again = false;
          announce();
        }
      }, announceEveryMs);
      timer.unref();
    };
    watchWrites(tables, () => {
      listener();
      announce();
    });
    bus.subscribe('table-writes', (notice, local) => {
      const written = Array.isArray(notice.tables) ? (notice.tables as unknown[]) : [];
      if (!local && written.some((t) => typeof t === 'string' && tables.includes(t))) listener();
    });
    bus.onResync(() => listener());
  };
}
