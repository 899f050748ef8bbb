import type { AgentLogAccepted, AgentLogBatch, LogPage, LogQuery } from '@flotilla/protocol';
import type { Kysely } from 'kysely';
import { batched } from '../db/batched.ts';
import type { Dialect } from '../db/connection.ts';
import type { Tables } from '../db/tables.ts';
import { Invalid } from '../errors.ts';
import type { FeatureDeps } from '../http/feature-deps.ts';
import type { LogHub } from './follow.ts';
import { idTime, type LogFilter, levelRanks, lineId, toRecord } from './lines.ts';
import { deleteOlderThan, insertLines, searchLines } from './store.ts';
import type { LogLinesTable } from './tables.ts';

const dayMs = 86_400_000;
const defaultLimit = 200;
const maxLimit = 1000;
const pruneChunk = 5000;

export interface LogServiceDeps {
  db: Kysely<Tables>;
  dialect: Dialect;
  /** Lines older than this are deleted by `prune()`. */
  retentionMs: number;
  /** Receives every stored batch, after its commit. */
  hub?: LogHub;
  /** A durable commit that syncs off the event loop (SQLite); default: a plain transaction. */
  commit?: FeatureDeps['commitDurably'];
  /** One statement without a transaction where the store allows it (PostgreSQL). */
  writeOne?: FeatureDeps['writeOne'];
  now?: () => number;
}

export type LogService = ReturnType<typeof createLogService>;

export function createLogService(deps: LogServiceDeps) {
  const now = deps.now ?? Date.now;
  let stopped = false;
  // Batches of many agents arriving together are stored by one transaction.
  const store = batched(async (batches: LogLinesTable[][]) => {
    await insertLines(deps.db, batches.flat(), { commit: deps.commit, writeOne: deps.writeOne });
    return batches.map(() => undefined);
  });

  /** Stores an agent's batch; the environment comes from the agent's token. */
  async function ingest(scope: { environment: string }, batch: AgentLogBatch): Promise<AgentLogAccepted> {
    const receivedAt = now();
    const rows: LogLinesTable[] = batch.lines.map((line) => {
      let time = Date.parse(line.time);
      // A clock far ahead would pin its lines to the top of every search, so take the arrival time.
      if (Number.isNaN(time) || time > receivedAt + dayMs) time = receivedAt;
      time = Math.max(0, time);
      return {
        id: lineId(time),
        received_at: receivedAt,
        time,
        environment: scope.environment,
        instance_id: batch.instanceId,
        service: line.service,
        version: line.version ?? null,
        pid: line.pid ?? null,
        level: line.level,
        level_rank: levelRanks[line.level],
        unit: line.unit,
        stream: line.stream,
        message: line.message,
      };
    });
    if (rows.length > 0) await store(rows);
    deps.hub?.publish(rows);
    return { accepted: rows.length };
  }

  /** One page of matching lines, newest first. */
  async function search(query: LogQuery): Promise<LogPage> {
    const filter = filterOf(query);
    const limit = Math.min(maxLimit, Math.max(1, query.limit ?? defaultLimit));
    const before = query.cursor ? decodeCursor(query.cursor) : undefined;
    // One extra row tells whether an older page exists.
    const rows = await searchLines(deps.db, deps.dialect, { ...filter, limit: limit + 1, before });
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      lines: page.map(toRecord),
      nextCursor: rows.length > limit && last ? encodeCursor(last.id) : null,
    };
  }

  /** Deletes lines older than the retention in bounded chunks; returns how many went. */
  async function prune(): Promise<number> {
    const cutoff = now() - deps.retentionMs;
    let total = 0;
    for (;;) {
      if (stopped) break;
      const n = await deleteOlderThan(deps.db, cutoff, pruneChunk);
      total += n;
      if (n < pruneChunk) break;
    }
    return total;
  }

  /** Makes a running `prune()` stop after its current chunk (at shutdown). */
  function stop(): void {
    stopped = true;
  }

  return { ingest, search, prune, stop, filterOf };
}

/** The filters of a search or follow query, checked. */
export function filterOf(query: LogQuery): LogFilter {
  const filter: LogFilter = {};
  if (query.service) filter.service = query.service;
  if (query.instance) filter.instance = query.instance;
  if (query.environment) filter.environment = query.environment;
  if (query.version) filter.version = query.version;
  if (query.level) filter.minRank = levelRanks[query.level];
  if (query.from) filter.from = parseTime(query.from, 'from');
  if (query.to) filter.to = parseTime(query.to, 'to');
  if (filter.from !== undefined && filter.to !== undefined && filter.from > filter.to) {
    throw new Invalid('"from" must not be after "to"');
  }
  if (query.q) filter.q = query.q;
  return filter;
}

function parseTime(text: string, name: string): number {
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new Invalid(`"${name}" must be an RFC 3339 time, got "${text}"`);
  return t;
}

function encodeCursor(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): { time: number; id: string } {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  const time = idTime(id);
  if (time === null) throw new Invalid('"cursor" is not one this server handed out');
  return { time, id };
}
