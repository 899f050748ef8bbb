import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type pg from 'pg';
import type { Logger } from 'pino';
import { batched } from '../db/batched.ts';
import type { Database } from '../db/connection.ts';

/** A small message between replicas: ids and keys only, the rows stay in the database. */
export interface ClusterNotice {
  kind: string;
  [field: string]: unknown;
}

/** `local` is true for a notice this replica published itself (delivered at once, never echoed). */
export type NoticeHandler = (notice: ClusterNotice, local: boolean) => void;

export interface ClusterBus {
  /** Delivers `notice` to this replica's handlers at once and to every other replica's soon after. */
  publish(notice: ClusterNotice): void;
  /** Calls `handler` for each notice of `kind`; returns the unsubscribe. */
  subscribe(kind: string, handler: NoticeHandler): () => void;
  /**
   * Called when notices may have been missed (the notification connection dropped): once on
   * reconnect and every few seconds while down. `since` is when the connection was lost (epoch ms).
   */
  onResync(listener: (since: number) => void): () => void;
  /** True while notices from other replicas arrive (always on SQLite). */
  readonly connected: boolean;
  close(): Promise<void>;
}

/** The one channel every replica listens on. */
export const clusterChannel = 'flotilla_cluster';
/** NOTIFY refuses payloads of 8000 bytes or more; stay well below. */
export const maxNoticeBytes = 7000;

export interface BusOptions {
  logger?: Logger | undefined;
  /** How often "everything may have changed" is signalled while the connection is down. */
  fallbackMs?: number;
  /** First reconnect delay; it doubles up to `maxBackoffMs`. */
  backoffMs?: number;
  maxBackoffMs?: number;
}

/** Handlers by kind, with their errors logged instead of breaking the delivery. */
function createHandlers(logger: Logger | undefined) {
  const byKind = new Map<string, Set<NoticeHandler>>();
  const resync = new Set<(since: number) => void>();
  return {
    subscribe(kind: string, handler: NoticeHandler): () => void {
      const set = byKind.get(kind) ?? new Set<NoticeHandler>();
      byKind.set(kind, set);
      set.add(handler);
      return () => set.delete(handler);
    },
    onResync(listener: (since: number) => void): () => void {
      resync.add(listener);
      return () => resync.delete(listener);
    },
    deliver(notice: ClusterNotice, local: boolean): void {
      for (const handler of [...(byKind.get(notice.kind) ?? [])]) {
        try {
          handler(notice, local);
        } catch (err) {
          logger?.error({ err, kind: notice.kind }, 'a cluster notice handler failed');
        }
      }
    },
    resync(since: number): void {
      for (const listener of [...resync]) {
        try {
          listener(since);
        } catch (err) {
          logger?.error({ err }, 'a cluster resync handler failed');
        }
      }
    },
  };
}

/** One process: notices go to this process's handlers only, and nothing is ever missed. */
export function createLocalBus(): ClusterBus {
  const handlers = createHandlers(undefined);
  return {
    publish: (notice) => handlers.deliver(notice, true),
    subscribe: handlers.subscribe,
    onResync: handlers.onResync,
    connected: true,
    close: async () => {},
  };
}

/** SQLite: a local bus (one process owns the file); PostgreSQL: LISTEN/NOTIFY between replicas. */
export function createClusterBus(database: Database, options: BusOptions = {}): ClusterBus {
  if (!database.openClient) return createLocalBus();
  return createPostgresBus(database, database.openClient.bind(database), options);
}

/** How the bus's session shows in pg_stat_activity. */
export const busApplicationName = 'flotilla-cluster-bus';

function createPostgresBus(
  database: Database,
  openClient: (name: string) => pg.Client,
  options: BusOptions,
): ClusterBus {
  const logger = options.logger;
  const fallbackMs = options.fallbackMs ?? 2000;
  const backoffMs = options.backoffMs ?? 250;
  const maxBackoffMs = options.maxBackoffMs ?? 10_000;
  const handlers = createHandlers(logger);
  // Tells this replica's own notices apart when they come back on the channel.
  const self = randomBytes(9).toString('base64url');
  let client: pg.Client | null = null;
  let connected = false;
  let closed = false;
  let downSince: number | null = Date.now();
  let delay = backoffMs;
  let reconnect: NodeJS.Timeout | undefined;
  let fallback: NodeJS.Timeout | undefined;
  // One send at a time, so other replicas receive this one's notices in the order they were published;
  // notices published while one is sent go together in the next statement.
  const send = batched(async (payloads: string[]) => {
    const notifies = payloads.map((payload) => sql`pg_notify(${clusterChannel}, ${payload})`);
    await sql`select ${sql.join(notifies)}`.execute(database.db);
    return payloads.map(() => undefined);
  }, 50);
  let sending: Promise<void> = Promise.resolve();

  const onNotification = (message: pg.Notification) => {
    if (message.channel !== clusterChannel || !message.payload) return;
    let notice: ClusterNotice & { from?: string };
    try {
      notice = JSON.parse(message.payload);
    } catch {
      return;
    }
    if (notice.from === self || typeof notice.kind !== 'string') return;
    const { from: _, ...rest } = notice;
    handlers.deliver(rest as ClusterNotice, false);
  };

  const startFallback = () => {
    if (fallback || closed) return;
    fallback = setInterval(() => handlers.resync(downSince ?? Date.now()), fallbackMs);
    fallback.unref();
  };

  const lost = (from: pg.Client, err?: Error) => {
    if (from !== client) return;
    client = null;
    from.removeAllListeners('notification');
    from.end().catch(() => {});
    if (closed) return;
    if (connected) logger?.warn({ err: err?.message }, 'lost the cluster notification connection; reconnecting');
    connected = false;
    downSince ??= Date.now();
    startFallback();
    scheduleReconnect();
  };

  const scheduleReconnect = () => {
    if (closed || reconnect) return;
    reconnect = setTimeout(() => {
      reconnect = undefined;
      void connect();
    }, delay);
    reconnect.unref();
    delay = Math.min(maxBackoffMs, delay * 2);
  };

  const connect = async (): Promise<void> => {
    const next = openClient(busApplicationName);
    client = next;
    next.on('error', (err) => lost(next, err));
    next.on('end', () => lost(next));
    next.on('notification', onNotification);
    try {
      await next.connect();
      await next.query(`LISTEN ${clusterChannel}`);
    } catch (err) {
      lost(next, err as Error);
      return;
    }
    if (closed || client !== next) {
      await next.end().catch(() => {});
      return;
    }
    const since = downSince;
    connected = true;
    downSince = null;
    delay = backoffMs;
    clearInterval(fallback);
    fallback = undefined;
    // Whatever was published while nobody listened is read from the database once.
    if (since !== null) handlers.resync(since);
  };

  void connect();
  // Until the first connection is up, notices from others may be missed: the fallback covers it.
  startFallback();

  return {
    publish(notice) {
      handlers.deliver(notice, true);
      const payload = JSON.stringify({ ...notice, from: self });
      if (Buffer.byteLength(payload) > maxNoticeBytes) {
        logger?.error({ kind: notice.kind }, 'a cluster notice was too large to send; other replicas do not see it');
        return;
      }
      const sent = send(payload).catch((err: Error) => {
        if (!closed) logger?.warn({ err: err.message, kind: notice.kind }, 'could not send a cluster notice');
      });
      // Close waits for the last one; every earlier one was sent before it.
      sending = sent;
    },
    subscribe: handlers.subscribe,
    onResync: handlers.onResync,
    get connected() {
      return connected;
    },
    async close() {
      closed = true;
      clearTimeout(reconnect);
      clearInterval(fallback);
      await sending;
      const last = client;
      client = null;
      connected = false;
      await last?.end().catch(() => {});
    },
  };
}
