import type pg from 'pg';
import type { Logger } from 'pino';
import type { Database } from '../db/connection.ts';

/** Which replica runs the background jobs that must run once (rollout evaluation, retention). */
export interface Leadership {
  isLeader(): boolean;
  /** Settles after the first try for the lock, so a lone replica leads from its first request on. */
  ready: Promise<void>;
  /** Called with the new state each time it changes; returns the unsubscribe. */
  onChange(listener: (leader: boolean) => void): () => void;
  close(): Promise<void>;
}

/** How the leader session shows in pg_stat_activity. */
export const leaderApplicationName = 'flotilla-leader';

/** The advisory lock every replica tries for: ("flot", 1). Advisory locks are per database. */
export const leaderLockKey: readonly [number, number] = [0x666c6f74, 1];

export interface LeaderOptions {
  logger?: Logger | undefined;
  /** How often a follower tries the lock and a leader checks its session. */
  retryMs?: number;
}

/** SQLite, or a single process: always the leader. */
export function alwaysLeader(): Leadership {
  return { isLeader: () => true, ready: Promise.resolve(), onChange: () => () => {}, close: async () => {} };
}

/**
 * PostgreSQL: the replica whose dedicated session holds the advisory lock leads. The lock goes with
 * the session, so when its holder dies or the session is cut, another replica takes it at its next try.
 */
export function electLeader(database: Database, options: LeaderOptions = {}): Leadership {
  if (!database.openClient) return alwaysLeader();
  const openClient = database.openClient.bind(database);
  const logger = options.logger;
  const retryMs = options.retryMs ?? 2000;
  const listeners = new Set<(leader: boolean) => void>();
  let leader = false;
  let closed = false;
  let client: pg.Client | null = null;
  let timer: NodeJS.Timeout | undefined;
  let attempt: Promise<void> = Promise.resolve();
  // A replica that just lost its session sits out one try, so a healthy one takes over first.
  let sitOut = false;

  const setLeader = (now: boolean) => {
    if (leader === now) return;
    leader = now;
    if (!closed) {
      if (now) logger?.info('this replica now runs the cluster-wide background jobs (leader)');
      else logger?.warn('this replica no longer runs the cluster-wide background jobs (not leader)');
    }
    for (const listener of [...listeners]) listener(now);
  };

  // The lock lives only as long as the session: losing the session is losing the lead, at once.
  const drop = (from: pg.Client) => {
    if (from !== client) return;
    client = null;
    if (leader) sitOut = true;
    setLeader(false);
    from.end().catch(() => {});
  };

  const tryOnce = async () => {
    if (closed) return;
    if (sitOut) {
      sitOut = false;
      return;
    }
    let session = client;
    try {
      if (!session) {
        session = openClient(leaderApplicationName);
        client = session;
        const mine = session;
        mine.on('error', () => drop(mine));
        mine.on('end', () => drop(mine));
        await mine.connect();
        // The server's side of the same: a holder whose host vanished without closing its socket
        // (power loss, partition) loses the lock after about 11 s instead of the system's 2 hours.
        await mine.query('set tcp_keepalives_idle = 5; set tcp_keepalives_interval = 2; set tcp_keepalives_count = 3');
      }
      if (leader) {
        await session.query('select 1');
        return;
      }
      const result = await session.query<{ got: boolean }>('select pg_try_advisory_lock($1, $2) as got', [
        ...leaderLockKey,
      ]);
      if (closed || session !== client) return;
      setLeader(result.rows[0]?.got === true);
    } catch (err) {
      if (session && session === client) {
        logger?.debug({ err: (err as Error).message }, 'leader lock session failed; retrying');
        drop(session);
      }
    }
  };

  const loop = () => {
    attempt = tryOnce().finally(() => {
      if (closed) return;
      timer = setTimeout(loop, retryMs);
      timer.unref();
    });
  };
  loop();
  const ready = attempt;

  return {
    isLeader: () => leader,
    ready,
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      closed = true;
      clearTimeout(timer);
      await attempt;
      const last = client;
      client = null;
      setLeader(false);
      // Ending the session releases the lock; the next replica takes it at its next try.
      await last?.end().catch(() => {});
    },
  };
}
