import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { ClusterBus, ClusterNotice } from '../cluster/bus.ts';
import type { Tables } from '../db/tables.ts';
import type { LogHub } from './follow.ts';
import type { LogLinesTable } from './tables.ts';

export interface LogLinkOptions {
  /** How far before the last catch-up (or the loss of the bus) a catch-up reads again: commit delays, clock skew. */
  slackMs?: number;
  /** Lines read per page when catching up. */
  pageSize?: number;
  /** Pages read per catch-up at most; a follower further behind than that sees a gap. */
  maxPages?: number;
  now?: () => number;
}

const toRow = (r: LogLinesTable): LogLinesTable => ({ ...r, time: Number(r.time), received_at: Number(r.received_at) });

/**
 * Brings lines uploaded through other replicas to this replica's followers. A stored batch is announced
 * by its key (environment, instance, arrival time, time range: one batch, a few hundred bytes), and
 * each replica with followers reads it back from the database. When notices may have been missed, lines
 * that arrived since are read by arrival time; the hub drops lines it has already sent.
 */
export function linkLogHub(
  hub: LogHub,
  bus: ClusterBus,
  db: Kysely<Tables>,
  logger: Logger,
  options: LogLinkOptions = {},
): () => void {
  const now = options.now ?? Date.now;
  const slackMs = options.slackMs ?? 15_000;
  const pageSize = options.pageSize ?? 2000;
  const maxPages = options.maxPages ?? 10;
  let caughtUp = now();
  // One read at a time, so lines reach followers in the order their notices came.
  let chain: Promise<void> = Promise.resolve();
  const enqueue = (work: () => Promise<void>) => {
    chain = chain.then(work).catch((err: Error) => logger.warn({ err }, 'reading log lines of another replica failed'));
  };

  hub.announceWith((rows) => {
    const first = rows[0];
    if (!first) return;
    let minTime = first.time;
    let maxTime = first.time;
    for (const row of rows) {
      minTime = Math.min(minTime, row.time);
      maxTime = Math.max(maxTime, row.time);
    }
    bus.publish({
      kind: 'log',
      environment: first.environment,
      instance: first.instance_id,
      receivedAt: first.received_at,
      minTime,
      maxTime,
    });
  });

  const readBatch = async (n: ClusterNotice) => {
    const rows = await db
      .selectFrom('log_lines')
      .selectAll()
      .where('instance_id', '=', String(n.instance))
      .where('time', '>=', Number(n.minTime))
      .where('time', '<=', Number(n.maxTime))
      .where('environment', '=', String(n.environment))
      .where('received_at', '=', Number(n.receivedAt))
      .orderBy('time')
      .orderBy('id')
      .execute();
    hub.deliver(rows.map(toRow));
  };

  const unsubscribe = bus.subscribe('log', (notice, local) => {
    if (local || hub.size === 0) return;
    enqueue(() => readBatch(notice));
  });

  const catchUp = async (since: number) => {
    const startedAt = now();
    let after = { receivedAt: Math.max(since, caughtUp) - slackMs, id: '' };
    for (let page = 0; page < maxPages; page++) {
      const bound = after;
      const rows = await db
        .selectFrom('log_lines')
        .selectAll()
        .where('received_at', '>=', bound.receivedAt)
        .where((eb) => eb.or([eb('received_at', '>', bound.receivedAt), eb('id', '>', bound.id)]))
        .orderBy('received_at')
        .orderBy('id')
        .limit(pageSize)
        .execute();
      hub.deliver(rows.map(toRow));
      const last = rows[rows.length - 1];
      if (!last || rows.length < pageSize) break;
      after = { receivedAt: Number(last.received_at), id: last.id };
    }
    caughtUp = startedAt;
  };

  const unresync = bus.onResync((since) => {
    if (hub.size === 0) {
      caughtUp = now();
      return;
    }
    enqueue(() => catchUp(since));
  });

  return () => {
    hub.announceWith(undefined);
    unsubscribe();
    unresync();
  };
}
