import { randomBytes } from 'node:crypto';
import type { LogLevel, LogRecord } from '@flotilla/protocol';
import type { LogLinesTable } from './tables.ts';

export const levelRanks: Record<LogLevel, number> = { trace: 0, debug: 1, info: 2, warn: 3, error: 4 };

let counter = 0;

/**
 * `<13-digit time ms>-<8-digit counter>-<6 hex>`: fixed width, so text order is (time, arrival order
 * in this process) on both engines; the random tail keeps ids unique across processes and restarts.
 */
export function lineId(timeMs: number): string {
  counter = (counter + 1) % 100_000_000;
  const ms = String(Math.max(0, Math.min(timeMs, 9_999_999_999_999))).padStart(13, '0');
  return `${ms}-${String(counter).padStart(8, '0')}-${randomBytes(3).toString('hex')}`;
}

const idPattern = /^(\d{13})-\d{8}-[0-9a-f]{6}$/;

/** The time a line id starts with, or null when `id` is not one. */
export function idTime(id: string): number | null {
  const m = idPattern.exec(id);
  return m ? Number(m[1]) : null;
}

export function toRecord(row: LogLinesTable): LogRecord {
  return {
    id: row.id,
    time: new Date(Number(row.time)).toISOString(),
    receivedAt: new Date(Number(row.received_at)).toISOString(),
    environment: row.environment,
    instanceId: row.instance_id,
    service: row.service,
    version: row.version,
    pid: row.pid === null ? null : Number(row.pid),
    level: row.level as LogLevel,
    unit: row.unit,
    stream: row.stream as LogRecord['stream'],
    message: row.message,
  };
}

/** A parsed search or follow filter; times are epoch ms and `to` is inclusive. */
export interface LogFilter {
  service?: string;
  instance?: string;
  environment?: string;
  version?: string;
  minRank?: number;
  from?: number;
  to?: number;
  /** Case-insensitive substring of the message. */
  q?: string;
}

/** The follow hub's in-memory version of the store's WHERE clause. */
export function matches(filter: LogFilter, row: LogLinesTable): boolean {
  if (filter.service !== undefined && row.service !== filter.service) return false;
  if (filter.instance !== undefined && row.instance_id !== filter.instance) return false;
  if (filter.environment !== undefined && row.environment !== filter.environment) return false;
  if (filter.version !== undefined && row.version !== filter.version) return false;
  if (filter.minRank !== undefined && row.level_rank < filter.minRank) return false;
  if (filter.from !== undefined && row.time < filter.from) return false;
  if (filter.to !== undefined && row.time > filter.to) return false;
  if (filter.q !== undefined && !row.message.toLowerCase().includes(filter.q.toLowerCase())) return false;
  return true;
}
