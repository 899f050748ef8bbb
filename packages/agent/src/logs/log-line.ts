export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';
export type LogStream = 'stdout' | 'stderr';

/** One captured output line of a supervised service. */
export interface LogLine {
  /** ISO-8601 UTC: the line's own timestamp when it has one, else the capture time. */
  time: string;
  level: LogLevel;
  /** Functional unit; empty when the line is not in the `date level unit message` format. */
  unit: string;
  message: string;
  stream: LogStream;
}

// `yyyy-MM-dd HH:mm:ss.SSS LEVEL unit message`; the milliseconds and the message may be absent.
const linePattern =
  /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,3}))? +(TRACE|DEBUG|INFO|WARN|WARNING|ERROR|FATAL) +(\S+)(?: (.*))?$/i;

const levels: Record<string, LogLevel> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  WARNING: 'warn',
  ERROR: 'error',
  FATAL: 'error',
};

/**
 * Parses a line in the service log format. Timestamps carry no zone, so they are read as the host's local
 * time (the service and the agent share the host). Other lines keep their text, at info (stdout) or error (stderr).
 */
export function parseLogLine(raw: string, stream: LogStream, nowMs: number): LogLine {
  const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
  const match = linePattern.exec(text);
  if (match) {
    const [, y, mo, d, h, mi, s, ms, level, unit, message] = match;
    const date = new Date(
      Number(y),
      Number(mo) - 1,
      Number(d),
      Number(h),
      Number(mi),
      Number(s),
      ms ? Number(ms.padEnd(3, '0')) : 0,
    );
    const lvl = levels[(level ?? '').toUpperCase()];
    // The Date constructor rolls over out-of-range parts (month 13): such a line is not in the format.
    const valid = date.getMonth() === Number(mo) - 1 && date.getDate() === Number(d) && date.getHours() === Number(h);
    if (valid && lvl && unit !== undefined) {
      return { time: date.toISOString(), level: lvl, unit, message: message ?? '', stream };
    }
  }
  return {
    time: captureTime(nowMs),
    level: stream === 'stderr' ? 'error' : 'info',
    unit: '',
    message: text,
    stream,
  };
}

// Lines read together share their capture time: one string for them all, not one per line.
let lastMs = Number.NaN;
let lastIso = '';
function captureTime(ms: number): string {
  if (ms !== lastMs) {
    lastIso = new Date(ms).toISOString();
    lastMs = ms;
  }
  return lastIso;
}
